"""Run the project's entry points the way a user does: as processes, from a directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from conftest import REPO


def run(
    args: list[str], cwd: Path = REPO, env: Mapping[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_stackctl(project: Path, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m stackctl --project-dir PROJECT COMMAND ARGS`` (what nox sessions run)."""
    return run(["-m", "stackctl", "--project-dir", str(project), command, *args])


def run_invoke(project: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """``invoke ARGS`` from PROJECT, with this repository's tasks.py."""
    return run(["-m", "invoke", "--search-root", str(REPO), *args], cwd=project, timeout=timeout)
