"""tasks.py and noxfile.py stay importable and helpful without any Docker engine."""

from __future__ import annotations

import os

import pytest

from cli import run
from stackctl.commands import all_commands

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

NO_DOCKER = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock", "PATH": os.environ["PATH"]}
# Every registered command is an invoke task: the list never goes stale.
TASKS = sorted(all_commands())


def test_invoke_list_needs_no_engine() -> None:
    done = run(["-m", "invoke", "--list"], env=NO_DOCKER)
    assert done.returncode == 0
    for task in TASKS:
        assert task in done.stdout


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_help(task: str) -> None:
    done = run(["-m", "invoke", "--help", task], env=NO_DOCKER)
    assert done.returncode == 0 and "Docstring:" in done.stdout
    assert "none" not in done.stdout.split("Docstring:")[1].split("Options:")[0].strip()


def test_nox_list_needs_no_engine() -> None:
    done = run(["-m", "nox", "-l"], env=NO_DOCKER)
    assert done.returncode == 0, done.stderr
    for session in ("validate", "checks", "tests", "smoke", "lint", "typecheck", "bench"):
        assert f"* {session} ->" in done.stdout or f"- {session} ->" in done.stdout


def test_importing_tasks_and_noxfile_touches_no_docker() -> None:
    code = (
        "import sys, tasks, noxfile; "
        "assert 'docker' not in sys.modules, 'docker SDK imported at import time'"
    )
    done = run(["-c", code], env=NO_DOCKER)
    assert done.returncode == 0, done.stderr


def test_engine_down_is_one_clear_line(tmp_path) -> None:
    done = run(["-m", "invoke", "ps"], env=NO_DOCKER)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: the Docker engine does not answer at unix:///nonexistent.sock" in done.stderr
    assert "hint: start the engine" in done.stderr
