"""The input every rule receives: one rendered model plus the raw project facts.

Everything is read up front, so rules stay pure functions without I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from checks.compose_files import (
    COMPOSE_NAMES,
    ENV_MAX_BYTES,
    Declaration,
    Reader,
    declares_services,
    find_compose_files,
    inside,
    parse_env_file,
    read_bounded,
    size_problem,
)
from checks.conventions import ROOT_FILE, STATE_VARIABLE, default_compose_files
from checks.image_facts import FACTS_DIR, FACTS_MAX_BYTES, ImageCatalogue, parse_catalogue
from checks.locate import Locator

# `${VAR}`, `${VAR:-x}`, `${VAR:?msg}` and `$VAR`, but not the `$$` escape.
VARIABLE_RE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
# Configuration a service may mount read-only; the wiring rules look for URLs in it.
CONFIG_SUFFIXES = {".yml", ".yaml", ".json", ".conf", ".toml", ".alloy", ".ini", ".cfg", ".env"}
# A bigger file is not configuration a person wrote (a data set, a bundle): it is
# skipped, as binary ones are; only its text is searched, never parsed.
CONFIG_MAX_BYTES = 256 * 1024
TEMPLATES_FILE = "infra/common-optimizations.yml"


def read_image_facts(project_dir: Path) -> ImageCatalogue:
    """Every ``infra/image-facts/*.yml`` record; a symlink is refused, never followed."""
    directory = project_dir / FACTS_DIR
    if not directory.is_dir() or directory.is_symlink():
        return ImageCatalogue()
    texts: dict[str, str] = {}
    refused: dict[str, str] = {}
    for path in sorted(directory.glob("*.yml")):
        relative = path.relative_to(project_dir).as_posix()
        if path.is_symlink():
            refused[relative] = "is a symlink; facts records must be regular files"
        elif path.is_file():
            try:
                with path.open("rb") as stream:
                    data = stream.read(FACTS_MAX_BYTES + 1)
                if len(data) > FACTS_MAX_BYTES:
                    size = max(len(data), path.stat().st_size)
                    refused[relative] = size_problem(size, FACTS_MAX_BYTES, "a facts record")
                else:
                    texts[relative] = data.decode("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                refused[relative] = f"cannot be read ({error.__class__.__name__})"
    return parse_catalogue(texts, refused)


def read_config_files(project_dir: Path) -> dict[str, str]:
    """Small text configuration files under infra/ (not compose files), by relative path."""
    found: dict[str, str] = {}
    infra = project_dir / "infra"
    if not infra.is_dir() or infra.is_symlink():
        return found
    for path in sorted(infra.rglob("*")):
        if (
            path.suffix not in CONFIG_SUFFIXES
            or path.name in COMPOSE_NAMES
            or path.is_symlink()
            or not path.is_file()
            or FACTS_DIR in path.relative_to(project_dir).as_posix()
            or path.stat().st_size > CONFIG_MAX_BYTES
        ):
            continue
        try:
            found[path.relative_to(project_dir).as_posix()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # binary or unreadable: not configuration a URL can hide in
    return found


def load_compose_files(project_dir: Path, files: Sequence[str] = ()) -> tuple[Reader, list[str]]:
    """Parse what compose loads: ``files`` (default: the files compose would pick), what
    they include and the files their services extend, each once and within its bounds.

    Returns the reader and the given files as project paths; raises
    ``checks.compose_files.InputRefused`` for a loaded file over a bound. A file given
    outside the project keeps its absolute path, so its findings point at it; what
    it includes from outside the project is not read.
    """
    given = [
        inside(project_dir, project_dir / name) or (project_dir / name).resolve().as_posix()
        for name in files or default_compose_files(project_dir)
    ]
    reader = Reader(project_dir)
    for relative in given:
        reader.load(relative, unit=0)
    if (project_dir / TEMPLATES_FILE).is_file() and TEMPLATES_FILE not in reader.raw:
        reader.read_optional(TEMPLATES_FILE)  # what `fix` may point a service at
    return reader, given


@dataclass(frozen=True)
class ProjectFacts:
    """The raw, non-merged facts about a project that some rules need.

    ``loaded`` are the files compose reads (the given files and, recursively, what
    they include); ``compose_files`` maps each to its raw data. Compose files found
    on disk that nothing loads are known by name only (``unloaded``), never parsed:
    a vendored copy may be any size, and compose never reads it.
    """

    root: Mapping[str, Any] = field(default_factory=dict)  # the raw root compose file
    root_name: str = "docker-compose.yml"
    compose_files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # path -> raw
    # compose files nothing loads -> whether a top-level `services:` shows in their
    # first MiB (``declares_services``): the layout rules' only question about them.
    unloaded: Mapping[str, bool] = field(default_factory=dict)
    included: tuple[str, ...] = ()
    env_example: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)  # variable -> first file using it
    sources: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # service -> file, line
    given: tuple[str, ...] = ()  # the files passed with -f, root first
    loaded: tuple[str, ...] = ()  # given files plus everything they include, in load order
    texts: Mapping[str, str] = field(default_factory=dict)  # path -> raw text
    documents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # + extended files
    declarations: Mapping[str, tuple[Declaration, ...]] = field(default_factory=dict)
    images: ImageCatalogue = field(default_factory=ImageCatalogue)  # image reference -> facts
    directory: str = ""  # the project's absolute path, to map bind sources to config files
    config_files: Mapping[str, str] = field(default_factory=dict)  # infra config path -> text
    # path -> lines of its keys: from the parse that read the file, else parsed once when
    # first asked (facts built from texts); one parse per file however many lookups.
    locators: dict[str, Locator] = field(default_factory=dict, compare=False, repr=False)
    # path -> variable -> the first line using it; gathered once per file when first asked.
    variable_lines: dict[str, dict[str, int]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # service -> the raw mappings compose merges into it (``rules._as_written``): the
    # same in every selection, so derived once per run, not once per selection.
    written: dict[str, tuple[Mapping[str, Any], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def state_root(self) -> str:
        return self.env_example.get(STATE_VARIABLE, "").rstrip("/")

    def source(self, service: str) -> tuple[str, int]:
        return self.sources.get(service, (self.root_name, 1))

    def key_line(self, file: str, path: Sequence[str]) -> tuple[int, int]:
        """``(line, depth)`` of the key ``path`` in ``file`` (see ``Locator.line``)."""
        locator = self.locators.get(file)
        if locator is None:
            locator = self.locators[file] = Locator.parse(self.texts.get(file, ""))
        return locator.line(path)

    def variable_line(self, file: str, variable: str) -> int:
        """The first line of ``file`` that uses ``${variable}`` or ``$variable`` (1: none)."""
        lines = self.variable_lines.get(file)
        if lines is None:
            lines = self.variable_lines[file] = {}
            for number, content in enumerate(self.texts.get(file, "").splitlines(), 1):
                for match in VARIABLE_RE.finditer(content):
                    lines.setdefault(match.group(1) or match.group(2), number)
        return lines.get(variable, 1)

    @classmethod
    def read(cls, project_dir: Path, files: Sequence[str] = ()) -> ProjectFacts:
        """Read ``files`` (default: the files compose would pick) and what they load.

        Raises ``checks.compose_files.InputRefused`` when a file compose loads, or
        ``.env.example``, is over its bound (see ``load_compose_files``).
        """
        return cls.from_reader(project_dir, *load_compose_files(project_dir, files))

    @classmethod
    def from_reader(cls, project_dir: Path, reader: Reader, given: Sequence[str]) -> ProjectFacts:
        """The facts around the compose files ``reader`` parsed (``load_compose_files``)."""
        discovered = [
            p.relative_to(project_dir).as_posix() for p in find_compose_files(project_dir)
        ]
        unloaded = {
            name: declares_services(project_dir / name)
            for name in discovered
            if name not in reader.order
        }
        variables: dict[str, str] = {}
        for relative in [*reader.order, *sorted(set(reader.raw) - set(reader.order))]:
            for match in VARIABLE_RE.finditer(reader.texts[relative]):
                variables.setdefault(match.group(1) or match.group(2), relative)
        sources: dict[str, tuple[str, int]] = {}
        for service, places in reader.declarations.items():
            # Where compose takes the definition from: a -f file wins, else the first include.
            chosen = next((d for d in places if d.unit == 0), places[0])
            sources[service] = (chosen.file, chosen.line)
        example = project_dir / ".env.example"  # never through a symlink leading outside
        env_text = (
            read_bounded(project_dir, ".env.example", ENV_MAX_BYTES, "an env file")
            if example.is_file() and inside(project_dir, example) is not None
            else ""
        )
        root_name = given[0] if given else ROOT_FILE
        return cls(
            root=reader.raw.get(root_name, {}),
            root_name=root_name,
            compose_files={name: reader.raw[name] for name in reader.order},
            unloaded=unloaded,
            documents=reader.raw,
            included=tuple(f for f in reader.order if f not in given),
            env_example=parse_env_file(env_text),
            variables=variables,
            sources=sources,
            given=tuple(given),
            loaded=tuple(reader.order),
            texts=reader.texts,
            locators=reader.locators,
            declarations={name: tuple(places) for name, places in reader.declarations.items()},
            images=read_image_facts(project_dir),
            directory=project_dir.resolve().as_posix(),
            config_files=read_config_files(project_dir),
        )

    def stack(self, model: Mapping[str, Any], profiles: tuple[str, ...] = ()) -> Stack:
        return Stack(model=model, profiles=profiles, complete="*" in profiles, facts=self)


@dataclass(frozen=True)
class Stack:
    """A rendered model for one profile combination and the project it came from."""

    model: Mapping[str, Any]
    profiles: tuple[str, ...] = ()
    complete: bool = False  # True when every profile is enabled ("*")
    facts: ProjectFacts = field(default_factory=ProjectFacts)

    @property
    def services(self) -> Mapping[str, Any]:
        services: Mapping[str, Any] = self.model.get("services") or {}
        return services

    @cached_property
    def awaited_to_complete(self) -> frozenset[str]:
        """Services some service waits for with ``service_completed_successfully``.

        Gathered once per stack: asking every service in turn would cost the
        square of the services.
        """
        return frozenset(
            name
            for spec in self.services.values()
            if isinstance(spec, Mapping) and isinstance(spec.get("depends_on"), Mapping)
            for name, condition in spec["depends_on"].items()
            if isinstance(condition, Mapping)
            and condition.get("condition") == "service_completed_successfully"
        )
