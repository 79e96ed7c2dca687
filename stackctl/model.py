"""Rendering the stack: ``docker compose config --format json`` is the only source of truth.

Compose does the merging, interpolation and path resolution; this module never
re-implements any of it. It only adds *where* a service was declared, found by
reading the keys of the files the root file includes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackctl.compose import Compose, first_error_line
from stackctl.errors import RenderError

# Compose prints these on stderr but still exits 0; for this stack they are errors.
_WARNING_PATTERNS = (
    re.compile(r"variable is not set", re.IGNORECASE),
    re.compile(r"level=warn", re.IGNORECASE),
    re.compile(r"^\s*WARN", re.IGNORECASE),
)


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(p.search(line) for p in _WARNING_PATTERNS)]


@dataclass(frozen=True)
class Source:
    """Where a service is declared: a path relative to the project and a 1-based line."""

    path: str
    line: int = 1


@dataclass
class Model:
    """A rendered compose model plus the source location of each service."""

    data: dict[str, Any]
    profiles: tuple[str, ...] = ()
    sources: dict[str, Source] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.data.get("services") or {}
        return services

    @property
    def secrets(self) -> dict[str, Any]:
        secrets: dict[str, Any] = self.data.get("secrets") or {}
        return secrets

    def source_of(self, service: str) -> Source:
        return self.sources.get(service, Source("docker-compose.yml"))


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def included_files(root_file: Path) -> list[Path]:
    """The files the root file includes, in order (string and long ``path:`` forms)."""
    data = load_yaml(root_file) or {}
    files: list[Path] = []
    for entry in data.get("include") or []:
        paths = entry.get("path") if isinstance(entry, Mapping) else entry
        for item in [paths] if isinstance(paths, str) else paths or []:
            files.append((root_file.parent / item).resolve())
    return files


def service_sources(project_dir: Path, root_file: Path) -> dict[str, Source]:
    """Map each service name to the file (and line) that declares it."""
    sources: dict[str, Source] = {}
    for path in [root_file, *included_files(root_file)]:
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        data = yaml.safe_load("\n".join(lines)) or {}
        services = data.get("services") if isinstance(data, Mapping) else None
        for name in services or {}:
            pattern = re.compile(rf"^\s+['\"]?{re.escape(str(name))}['\"]?\s*:")
            line = next((i for i, text in enumerate(lines, 1) if pattern.match(text)), 1)
            try:
                relative = path.relative_to(project_dir).as_posix()
            except ValueError:
                relative = path.as_posix()
            sources[str(name)] = Source(relative, line)
    return sources


def render(compose: Compose, profiles: Sequence[str] = (), *, strict: bool = True) -> Model:
    """Render the model for ``profiles``; compose's own error line on failure.

    With ``strict`` a warning (for example an unset variable) is an error too.
    """
    done = compose.run(["config", "--format", "json"], profiles)
    if done.returncode != 0:
        raise RenderError(first_error_line(done.stderr) or "docker compose config failed")
    warnings = warning_lines(done.stderr)
    if strict and warnings:
        raise RenderError(first_error_line(warnings[0]))
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise RenderError(f"compose printed invalid JSON: {error}") from error
    project = compose.project
    sources = service_sources(project.directory, project.root_path)
    return Model(data=data, profiles=tuple(profiles), sources=sources)


def list_profiles(compose: Compose) -> tuple[str, ...]:
    """Every profile any service declares (``config --profiles``)."""
    done = compose.run(["config", "--profiles"])
    if done.returncode != 0:
        raise RenderError(first_error_line(done.stderr) or "docker compose config failed")
    return tuple(line.strip() for line in done.stdout.splitlines() if line.strip())
