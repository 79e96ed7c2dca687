"""Rendering the stack: ``docker compose config --format json`` is the only source of truth.

Compose does the merging, interpolation and path resolution; this module never
re-implements any of it. (Where each service is declared, for reports, is read
once per project by ``checks.stack.ProjectFacts``.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.compose import Compose, first_error_line
from stackctl.errors import RenderError
from stackctl.profiles import check_known

# Compose prints these on stderr but still exits 0; for this stack they are errors.
_WARNING_PATTERNS = (
    re.compile(r"variable is not set", re.IGNORECASE),
    re.compile(r"level=warn", re.IGNORECASE),
    re.compile(r"^\s*WARN", re.IGNORECASE),
)


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(p.search(line) for p in _WARNING_PATTERNS)]


@dataclass
class Model:
    """A rendered compose model and the profiles it was rendered with."""

    data: dict[str, Any]
    profiles: tuple[str, ...] = ()

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.data.get("services") or {}
        return services


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
    return Model(data=data, profiles=tuple(profiles))


def require_known_profiles(compose: Compose, requested: Sequence[str]) -> None:
    """Fail with the list of known profiles when a requested one does not exist."""
    if requested:
        check_known(requested, list_profiles(compose))


def list_profiles(compose: Compose) -> tuple[str, ...]:
    """Every profile any service declares (``config --profiles``)."""
    done = compose.run(["config", "--profiles"])
    if done.returncode != 0:
        raise RenderError(first_error_line(done.stderr) or "docker compose config failed")
    return tuple(line.strip() for line in done.stdout.splitlines() if line.strip())
