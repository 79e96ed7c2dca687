"""Every compose child is bounded in time and memory, and never outlives the command."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cli import run
from conftest import FIXTURES, REPO
from stackctl.errors import ComposeAborted, UsageError
from stackctl.project.children import Bounds
from stackctl.project.compose import Compose, Project

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow


def hanging_compose(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in compose that answers `version` and then hangs, with a child of its own."""
    pids = tmp_path / "pids"
    script = tmp_path / "hung-compose"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *version*) echo 5.6.1; exit 0;; esac\n'
        f"sleep 600 & echo $! >> {pids}\n"
        f"echo $$ >> {pids}\n"
        "wait\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent has not reaped it yet).
    status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    return status != "Z"


def test_hung_compose_ends_in_one_line_within_the_timeout(tmp_path: Path) -> None:
    script, pids = hanging_compose(tmp_path)
    env = {**os.environ, "COMPOSE_BIN": str(script), "STACKCTL_COMPOSE_TIMEOUT": "2"}
    done = run(["-m", "stackctl", "validate", "--profiles", "core"], env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "did not finish within 2s and was stopped" in done.stderr
    assert "STACKCTL_COMPOSE_TIMEOUT" in done.stderr
    started = [int(p) for p in pids.read_text().split()]
    assert started and not any(alive(pid) for pid in started)  # its whole group is gone


def test_alias_bomb_is_stopped_by_the_memory_bound() -> None:
    project = Project.at(FIXTURES / "aliasbomb")
    compose = Compose(project, bounds=Bounds(timeout=120, memory_mb=1024))
    with pytest.raises(ComposeAborted) as caught:
        compose.run(["config", "--format", "json"])
    assert "memory bound" in caught.value.message or "did not finish" in caught.value.message


def test_alias_bomb_through_the_cli_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "STACKCTL_COMPOSE_MEMORY_MB": "1024", "STACKCTL_COMPOSE_TIMEOUT": "120"}
    done = run(
        ["-m", "stackctl", "validate", "--project-dir", str(FIXTURES / "aliasbomb")],
        env=env,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    # refused by the YAML bounds before compose runs (compose's own memory bound, the
    # next line of defence, is proven by the test above)
    assert "an alias bomb?" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2  # the error and its hint


def test_normal_render_fits_the_default_bounds() -> None:
    compose = Compose(Project.at(REPO, ".env.example"))
    assert compose.bounds == Bounds()
    assert compose.run(["config", "--format", "json"], ["*"]).returncode == 0


@pytest.mark.parametrize("value", ["abc", "0", "-3", "nan", "inf"])
def test_bad_bound_variables_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        Bounds.from_env({"STACKCTL_COMPOSE_TIMEOUT": value})
    assert "STACKCTL_COMPOSE_TIMEOUT" in caught.value.message
    with pytest.raises(UsageError):
        Bounds.from_env({"STACKCTL_COMPOSE_MEMORY_MB": value})


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_are_forwarded_and_end_as_an_interrupt(tmp_path: Path, signum: int) -> None:
    script, pids = hanging_compose(tmp_path)
    env = {**os.environ, "COMPOSE_BIN": str(script), "STACKCTL_COMPOSE_TIMEOUT": "300"}
    process = subprocess.Popen(
        [sys.executable, "-m", "stackctl", "validate", "--profiles", "core"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # wait until the stand-in compose has started
            if pids.exists() and len(pids.read_text().split()) >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the stand-in compose never started")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    started = [int(p) for p in pids.read_text().split()]
    assert not any(alive(pid) for pid in started)


def test_a_signal_while_a_child_starts_still_stops_that_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race a loaded machine found: the handler ran while Popen did, before the new
    child was known, so nobody signalled it. Made deterministic by signalling from Popen."""
    from stackctl.errors import Interrupted
    from stackctl.project import children

    real_popen = subprocess.Popen
    started: list[int] = []

    def popen_then_signal(*args: Any, **kwargs: Any) -> subprocess.Popen[str]:
        process = real_popen(*args, **kwargs)
        started.append(process.pid)
        children.signal_children(signal.SIGTERM)  # cannot see the new child yet
        return process

    monkeypatch.setattr(children.subprocess, "Popen", popen_then_signal)
    try:
        with pytest.raises(Interrupted):
            children.spawn_child(
                ["sleep", "600"],
                cwd=None,
                env=dict(os.environ),
                bounds=Bounds(),
                stdout=None,
                stderr=None,
            )
    finally:
        children.STOPPING.clear()
    assert started and not alive(started[0])
    assert all(p.pid != started[0] for p in children.CHILDREN.snapshot())
