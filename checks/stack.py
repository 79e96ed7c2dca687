"""The input every rule receives: one rendered model plus the raw project facts.

Everything is read up front, so rules stay pure functions without I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from checks.images import FACTS_DIR, ImageCatalogue, parse_catalogue
from checks.locate import key_line

# `${VAR}`, `${VAR:-x}`, `${VAR:?msg}` and `$VAR`, but not the `$$` escape.
VARIABLE_RE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
# libyaml's safe loader when PyYAML has it: reading every compose file is 4x faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
IGNORED_DIRS = {".git", ".nox", ".venv", "node_modules", "tests", "secrets", "build"}
COMPOSE_NAMES = {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
# Configuration a service may mount read-only; the wiring rules look for URLs in it.
CONFIG_SUFFIXES = {".yml", ".yaml", ".json", ".conf", ".toml", ".alloy", ".ini", ".cfg", ".env"}
CONFIG_MAX_BYTES = 256 * 1024


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` pairs of an env file, read as leniently as compose reads them.

    A byte-order mark, ``export`` prefixes, CRLF endings, quotes and `` #`` comments
    after an unquoted value are tolerated; a quoted value may span lines.
    """
    values: dict[str, str] = {}
    lines = iter(text.removeprefix("\ufeff").splitlines())
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export") and key[6:7].isspace():
            key = key[6:].strip()
        value = value.strip()
        quote = value[:1]
        if quote in {"'", '"'}:
            while len(value) < 2 or not value.endswith(quote):
                following = next(lines, None)
                if following is None:
                    break
                value += "\n" + following.rstrip("\r")
            value = value[1:-1] if len(value) >= 2 and value.endswith(quote) else value[1:]
        else:
            value = value.split(" #", 1)[0].rstrip()  # an inline comment, as compose reads it
        values[key] = value
    return values


def include_entries(data: Mapping[str, Any]) -> list[list[str]]:
    """The ``include:`` entries of one raw compose file, each as its list of paths.

    The short form (a string), the long form (``path:`` a string) and the long form
    with a list of paths (merged by compose as one unit, later ones overriding) are
    all accepted; anything else is ignored here and left for compose to reject.
    """
    entries: list[list[str]] = []
    for entry in data.get("include") or [] if isinstance(data, Mapping) else []:
        value = entry.get("path") if isinstance(entry, Mapping) else entry
        paths = [value] if isinstance(value, str) else value
        if isinstance(paths, list):
            entries.append([str(p) for p in paths if isinstance(p, str)])
    return entries


def include_paths(root: Mapping[str, Any]) -> list[str]:
    """The paths a file includes, in order (string and long ``path:`` forms)."""
    return [path for entry in include_entries(root) for path in entry]


def extends_files(data: Mapping[str, Any]) -> list[str]:
    """The files the services of one raw compose file extend (``extends.file``)."""
    services = data.get("services") if isinstance(data, Mapping) else None
    files: list[str] = []
    for spec in (services or {}).values() if isinstance(services, Mapping) else []:
        extends = spec.get("extends") if isinstance(spec, Mapping) else None
        if isinstance(extends, Mapping) and isinstance(extends.get("file"), str):
            files.append(extends["file"])
    return files


def is_remote(path: str) -> bool:
    return "://" in path or path.startswith("git@")


@dataclass(frozen=True)
class RemoteReference:
    """A remote ``include`` or ``extends.file`` as the compose file spells it.

    The text is the file's own, never interpolated: ``${TOKEN}`` stays a name.
    """

    file: str  # relative to the project
    key: str  # "include" or "extends"
    reference: str

    @property
    def oci(self) -> bool:
        return self.reference.lower().startswith("oci://")


def remote_references(project_dir: Path, files: Sequence[str] = ()) -> list[RemoteReference]:
    """Every remote ``include`` and ``extends.file`` of ``files`` (default: the file compose
    picks), of the local files they include and of the local files they extend."""
    reader = _Reader(project_dir)
    given = [
        relative
        for name in files or [default_compose_file(project_dir)]
        if (relative := inside(project_dir, project_dir / name)) is not None
    ]
    try:
        for relative in given:
            reader.load(relative, unit=0)
    except RecursionError:
        pass  # a file too deep to read: report what was found before it
    found: list[RemoteReference] = []
    queue = list(reader.raw)
    seen = set(queue)
    while queue:
        relative = queue.pop(0)
        data = reader.raw[relative]
        found += [
            RemoteReference(relative, "include", path)
            for path in include_paths(data)
            if is_remote(path)
        ]
        base = (project_dir / relative).parent
        for template in extends_files(data):
            if is_remote(template):
                found.append(RemoteReference(relative, "extends", template))
            elif (target := inside(project_dir, base / template)) and target not in seen:
                seen.add(target)  # a template's own extends may name a remote file too
                reader.read(target)
                queue.append(target)
    return found


def declared_services(relative: str, text: str, data: Any) -> dict[str, tuple[str, int]]:
    """Service name -> (file, line) for the services a compose file declares itself."""
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, Mapping):
        return {}
    return {str(name): (relative, key_line(text, ["services", str(name)])[0]) for name in services}


def find_compose_files(project_dir: Path) -> list[Path]:
    """Compose files of the project; a symlink leading outside the project is never followed."""
    found = []
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if any(part in IGNORED_DIRS for part in relative.parts[:-1]):
            continue
        if path.name in COMPOSE_NAMES and path.is_file() and inside(project_dir, path) is not None:
            found.append(path)
    return found


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
                texts[relative] = path.read_text(encoding="utf-8")
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


def _read_text(path: Path) -> str:
    """A file's text for facts and locations; unreadable or non-UTF-8 bytes never stop a check.

    Compose itself rejects a file it loads that cannot be read; files found on
    disk that nothing loads (a data folder, a vendored copy) must not matter.
    """
    try:
        return path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


class _Reader:
    """Reads compose files once each, following ``include`` from the files compose loads."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.raw: dict[str, Mapping[str, Any]] = {}
        self.texts: dict[str, str] = {}
        self.order: list[str] = []
        self.declarations: dict[str, list[Declaration]] = {}
        self.units = 0
        self.too_deep: set[str] = set()

    def read(self, relative: str) -> Mapping[str, Any]:
        if relative not in self.raw:
            text = _read_text(self.project_dir / relative)
            try:
                data = yaml.load(text, Loader=_SAFE_LOADER) or {}
            except yaml.YAMLError:
                data = {}  # compose reports the syntax error itself, with its line
            except RecursionError:
                data = {}
                self.too_deep.add(relative)
            self.texts[relative] = text
            self.raw[relative] = data if isinstance(data, Mapping) else {}
        return self.raw[relative]

    def load(self, relative: str, unit: int) -> None:
        if relative in self.order:  # compose refuses include cycles; never loop here
            return
        data = self.read(relative)
        if relative in self.too_deep:
            # A file compose loads but Python cannot parse: stop rather than judge it empty.
            raise RecursionError(f"{relative} nests deeper than the YAML reader can follow")
        self.order.append(relative)
        for name, (file, line) in declared_services(relative, self.texts[relative], data).items():
            self.declarations.setdefault(name, []).append(Declaration(file, line, unit))
        base = (self.project_dir / relative).parent
        for template in extends_files(data):
            target = inside(self.project_dir, base / template)
            if target is not None:
                self.read(target)  # read for locations and variables; compose loads it
        for entry in include_entries(data):
            self.units += 1
            for path in entry:
                target = None if is_remote(path) else inside(self.project_dir, base / path)
                if target is not None:
                    self.load(target, self.units)


@dataclass(frozen=True)
class Declaration:
    """Where one compose file declares a service, and which include unit it belongs to.

    The files given with ``-f`` form one unit (later files override earlier ones on
    purpose), and so do the paths of one long-form ``include`` entry; every other
    include entry is a unit of its own, whose services compose resolves silently.
    """

    file: str
    line: int
    unit: int


def default_compose_file(project_dir: Path) -> str:
    """The file compose itself picks in ``project_dir`` when no ``-f`` is given."""
    for name in ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"):
        if (project_dir / name).is_file():
            return name
    return "docker-compose.yml"


def inside(project_dir: Path, path: Path) -> str | None:
    """``path`` relative to the project, or None when it resolves outside of it."""
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
        return None


@dataclass(frozen=True)
class ProjectFacts:
    """The raw, non-merged facts about a project that some rules need.

    ``loaded`` are the files compose reads (the given files and, recursively, what
    they include); ``compose_files`` adds every compose file found on disk, so that
    layout rules can see files nothing includes.
    """

    root: Mapping[str, Any] = field(default_factory=dict)  # the raw root compose file
    root_name: str = "docker-compose.yml"
    compose_files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # path -> raw
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

    @property
    def state_root(self) -> str:
        return self.env_example.get("DEFAULT_MOUNT_VOLUME_PATH", "").rstrip("/")

    def source(self, service: str) -> tuple[str, int]:
        return self.sources.get(service, (self.root_name, 1))

    @classmethod
    def read(cls, project_dir: Path, files: Sequence[str] = ()) -> ProjectFacts:
        """Read ``files`` (default: the file compose would pick) and what they include."""
        given = [
            relative
            for name in files or [default_compose_file(project_dir)]
            if (relative := inside(project_dir, project_dir / name)) is not None
        ]
        reader = _Reader(project_dir)
        for relative in given:
            reader.load(relative, unit=0)
        discovered = [
            p.relative_to(project_dir).as_posix() for p in find_compose_files(project_dir)
        ]
        for relative in discovered:
            reader.read(relative)
        templates = "infra/common-optimizations.yml"
        if (project_dir / templates).is_file() and templates not in reader.raw:
            reader.read(templates)
        variables: dict[str, str] = {}
        for relative in [*reader.order, *sorted(set(reader.raw) - set(reader.order))]:
            for match in VARIABLE_RE.finditer(reader.texts[relative]):
                variables.setdefault(match.group(1) or match.group(2), relative)
        sources: dict[str, tuple[str, int]] = {}
        for service, places in reader.declarations.items():
            # Where compose takes the definition from: a -f file wins, else the first include.
            chosen = next((d for d in places if d.unit == 0), places[0])
            sources[service] = (chosen.file, chosen.line)
        env_text = _read_text(project_dir / ".env.example")
        root_name = given[0] if given else "docker-compose.yml"
        return cls(
            root=reader.raw.get(root_name, {}),
            root_name=root_name,
            compose_files={
                name: data
                for name, data in reader.raw.items()
                if name in reader.order or name in discovered
            },
            documents=reader.raw,
            included=tuple(f for f in reader.order if f not in given),
            env_example=parse_env_file(env_text),
            variables=variables,
            sources=sources,
            given=tuple(given),
            loaded=tuple(reader.order),
            texts=reader.texts,
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
