"""The input every rule receives: one rendered model plus the raw project facts.

Everything is read up front, so rules stay pure functions without I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from checks.images import FACTS_DIR, ImageCatalogue, parse_catalogue

# `${VAR}`, `${VAR:-x}`, `${VAR:?msg}` and `$VAR`, but not the `$$` escape.
VARIABLE_RE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
IGNORED_DIRS = {".git", ".nox", ".venv", "node_modules", "tests", "secrets", "build"}
COMPOSE_NAMES = {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
# Configuration a service may mount read-only; the wiring rules look for URLs in it.
CONFIG_SUFFIXES = {".yml", ".yaml", ".json", ".conf", ".toml", ".alloy", ".ini", ".cfg", ".env"}
CONFIG_MAX_BYTES = 256 * 1024


def parse_env_file(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def include_paths(root: Mapping[str, Any]) -> list[str]:
    """The paths a root file includes, in order (string and long ``path:`` forms)."""
    paths: list[str] = []
    for entry in root.get("include") or []:
        value = entry.get("path") if isinstance(entry, Mapping) else entry
        paths.extend([value] if isinstance(value, str) else value or [])
    return [str(p) for p in paths]


def declared_services(relative: str, text: str, data: Any) -> dict[str, tuple[str, int]]:
    """Service name -> (file, line) for the services a compose file declares itself."""
    services = data.get("services") if isinstance(data, Mapping) else None
    lines = text.splitlines()
    found: dict[str, tuple[str, int]] = {}
    for name in services or {}:
        pattern = re.compile(rf"^\s+['\"]?{re.escape(str(name))}['\"]?\s*:")
        line = next((i for i, content in enumerate(lines, 1) if pattern.match(content)), 1)
        found[str(name)] = (relative, line)
    return found


def find_compose_files(project_dir: Path) -> list[Path]:
    found = []
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if any(part in IGNORED_DIRS for part in relative.parts[:-1]):
            continue
        if path.name in COMPOSE_NAMES and path.is_file():
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


@dataclass(frozen=True)
class ProjectFacts:
    """The raw, non-merged facts about a project that some rules need."""

    root: Mapping[str, Any] = field(default_factory=dict)  # the raw root compose file
    root_name: str = "docker-compose.yml"
    compose_files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # path -> raw
    included: tuple[str, ...] = ()
    env_example: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)  # variable -> first file using it
    sources: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # service -> file, line
    images: ImageCatalogue = field(default_factory=ImageCatalogue)  # image reference -> facts
    directory: str = ""  # the project's absolute path, to map bind sources to config files
    config_files: Mapping[str, str] = field(default_factory=dict)  # infra config path -> text

    @property
    def state_root(self) -> str:
        return self.env_example.get("DEFAULT_MOUNT_VOLUME_PATH", "").rstrip("/")

    def source(self, service: str) -> tuple[str, int]:
        return self.sources.get(service, (self.root_name, 1))

    @classmethod
    def read(cls, project_dir: Path, root_name: str = "docker-compose.yml") -> ProjectFacts:
        compose_files: dict[str, Mapping[str, Any]] = {}
        variables: dict[str, str] = {}
        declared: dict[str, dict[str, tuple[str, int]]] = {}
        for path in find_compose_files(project_dir):
            relative = path.relative_to(project_dir).as_posix()
            text = path.read_text(encoding="utf-8")
            compose_files[relative] = yaml.safe_load(text) or {}
            declared[relative] = declared_services(relative, text, compose_files[relative])
            for match in VARIABLE_RE.finditer(text):
                variables.setdefault(match.group(1) or match.group(2), relative)
        templates = project_dir / "infra" / "common-optimizations.yml"
        if templates.is_file():
            for match in VARIABLE_RE.finditer(templates.read_text(encoding="utf-8")):
                variables.setdefault(
                    match.group(1) or match.group(2), "infra/common-optimizations.yml"
                )
        root = compose_files.get(root_name, {})
        included = [
            (project_dir / item).resolve().relative_to(project_dir).as_posix()
            for item in include_paths(root)
        ]
        sources: dict[str, tuple[str, int]] = {}
        for relative in [root_name, *included]:
            sources.update(declared.get(relative, {}))
        env_path = project_dir / ".env.example"
        env_text = env_path.read_text(encoding="utf-8") if env_path.is_file() else ""
        return cls(
            root=root,
            root_name=root_name,
            compose_files=compose_files,
            included=tuple(included),
            env_example=parse_env_file(env_text),
            variables=variables,
            sources=sources,
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
