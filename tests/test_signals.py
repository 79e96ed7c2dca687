"""SIGINT and SIGTERM during `up` and `smoke`: exit 130 and nothing left behind.

Each test starts the real command as a process, waits until the engine shows
that the start is under way, sends one signal to that process only (as
`timeout`, CI cancellation or systemd do) and then counts what is left:
containers and networks of the project, and any process still running with
the project's directory on its command line (a compose child).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from opsstack import (
    SERVICE_PROFILES,
    make_copy,
    project_containers,
    project_networks,
    remove_everything,
)

from conftest import OPS_FIXTURE, REPO

pytestmark = pytest.mark.engine
START_LIMIT = 120  # seconds until the engine must show the start under way


def processes_mentioning(marker: str) -> list[str]:
    """Live processes whose command line contains ``marker`` (a /proc scan, no psutil)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                line
                for line in (entry / "status").read_text().splitlines()
                if line.startswith("State:")
            )
        except (OSError, StopIteration):
            continue
        if marker in argv and "Z" not in state.split()[1]:
            found.append(f"{entry.name}: {argv.strip()}")
    return found


def start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def wait_for(condition, what: str, limit: float = START_LIMIT) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finish(process: subprocess.Popen[bytes], log: Path) -> str:
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(
            "the command did not end after the signal:\n" + log.read_text()
        ) from None
    return log.read_text(errors="replace")


@pytest.fixture
def ops_copy(tmp_path: Path, docker_engine, test_image: str):
    copy = make_copy(tmp_path, test_image, "sig")
    copy.scaffold()
    yield copy
    remove_everything(docker_engine, copy.name)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_up_rolls_back_with_down_on_failure(
    signum, ops_copy, docker_engine, tmp_path: Path
) -> None:
    log = tmp_path / "up.log"
    process = start(
        [
            "-m",
            "invoke",
            "--search-root",
            str(REPO),
            "up",
            "--profiles",
            SERVICE_PROFILES,
            "--down-on-failure",
        ],
        ops_copy.path,
        log,
    )
    wait_for(lambda: project_containers(docker_engine, ops_copy.name), "the first container")
    process.send_signal(signum)
    output = finish(process, log)

    assert process.returncode == 130, output[-3000:]
    assert "rolled back what this run started" in output
    assert "Traceback" not in output
    assert project_containers(docker_engine, ops_copy.name) == []
    assert project_networks(docker_engine, ops_copy.name) == []
    assert processes_mentioning(str(ops_copy.path)) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_up_stops_what_it_started_and_names_it(
    signum, ops_copy, docker_engine, tmp_path: Path
) -> None:
    """Without any flag, as compose's attached mode does on Ctrl-C."""
    log = tmp_path / "up.log"
    process = start(
        ["-m", "invoke", "--search-root", str(REPO), "up", "--profiles", SERVICE_PROFILES],
        ops_copy.path,
        log,
    )
    wait_for(lambda: project_containers(docker_engine, ops_copy.name), "the first container")
    process.send_signal(signum)
    output = finish(process, log)

    assert process.returncode == 130, output[-3000:]
    lines = [line for line in output.splitlines() if line.startswith("interrupted: rolled back")]
    assert len(lines) == 1 and ops_copy.name in lines[0], output[-3000:]
    assert project_containers(docker_engine, ops_copy.name) == []
    assert project_networks(docker_engine, ops_copy.name) == []
    assert processes_mentioning(str(ops_copy.path)) == []


def test_sigterm_during_up_lists_what_it_left_in_one_line(
    ops_copy, docker_engine, tmp_path: Path
) -> None:
    log = tmp_path / "up.log"
    process = start(
        [
            "-m",
            "invoke",
            "--search-root",
            str(REPO),
            "up",
            "--profiles",
            SERVICE_PROFILES,
            "--keep-on-interrupt",
        ],
        ops_copy.path,
        log,
    )
    wait_for(lambda: project_containers(docker_engine, ops_copy.name), "the first container")
    process.send_signal(signal.SIGTERM)
    output = finish(process, log)

    assert process.returncode == 130, output[-3000:]
    lines = [line for line in output.splitlines() if line.startswith("interrupted: this run")]
    assert len(lines) == 1, output[-3000:]
    left = {c.name for c in project_containers(docker_engine, ops_copy.name)}
    assert left and all(name in lines[0] for name in left)
    assert processes_mentioning(str(ops_copy.path)) == []  # compose did not carry on alone


def smoke_name(log: Path) -> str | None:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("smoke smoke-") and ": starting" in line:
            return line.split()[1].rstrip(":")
    return None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_smoke_tears_everything_down(
    signum, docker_engine, test_image: str, tmp_path: Path
) -> None:
    log = tmp_path / "smoke.log"
    process = start(
        [
            "-m",
            "stackctl",
            "smoke",
            "--fixture",
            "--project-dir",
            str(OPS_FIXTURE),
            "--profiles",
            SERVICE_PROFILES,
            "--junit",
            str(tmp_path / "smoke.xml"),
        ],
        tmp_path,
        log,
    )
    name = ""
    try:
        wait_for(lambda: smoke_name(log) is not None, "smoke to start its project")
        name = smoke_name(log) or ""
        wait_for(lambda: project_containers(docker_engine, name), "the first smoke container")
        process.send_signal(signum)
        output = finish(process, log)
    finally:
        if process.poll() is None:
            process.kill()
        if name:
            leftovers = project_containers(docker_engine, name)
            remove_everything(docker_engine, name)

    assert process.returncode == 130, output[-3000:]
    assert "torn down" in output and "Traceback" not in output
    assert leftovers == []
    assert project_networks(docker_engine, name) == []
    assert docker_engine.volumes.list(filters={"label": f"com.docker.compose.project={name}"}) == []
    assert processes_mentioning(name) == []
    assert not list(Path(tempfile.gettempdir()).glob(f"stackctl-{name}-*"))  # state is gone
