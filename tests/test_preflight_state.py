"""Preflight owns the state directories: every one, new or existing, must belong to the
uid its service runs as (``org.platform.state-owner``), or ``up`` stops with the chown.

The directories are real; the compose model is rendered by the real compose binary.
Who runs preflight is either a real non-root process (a child that drops to uid 1000
before importing anything) or the caller's uid passed through ``euid``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from stackctl.errors import EnvironmentProblem
from stackctl.operating.preflight import ensure_state_dirs
from stackctl.project.compose import Compose, Project
from stackctl.project.render import Model, render

NOBODY_ELSE = 1000  # the uid the child drops to; not the owner any label below asks for


def _project(tmp_path: Path, owner: str = "473:473") -> tuple[Model, Path]:
    """A one-service project whose state directory must belong to ``owner``."""
    state = tmp_path / "state"
    project = tmp_path / "project"
    project.mkdir()
    compose = {
        "name": "statetest",
        "services": {
            "collector": {
                "image": "example/collector:1.0",
                "user": owner,
                "labels": {"org.platform.state-owner": owner},
                "volumes": ["${DEFAULT_MOUNT_VOLUME_PATH}/collector:/var/lib/collector"],
            }
        },
    }
    (project / "docker-compose.yml").write_text(yaml.safe_dump(compose), encoding="utf-8")
    (project / ".env.example").write_text(f"DEFAULT_MOUNT_VOLUME_PATH={state}\n")
    model = render(Compose(Project.at(project, ".env.example")), ("*",))
    return model, state


def test_existing_directory_of_another_uid_is_refused_with_the_chown(tmp_path: Path) -> None:
    model, state = _project(tmp_path)
    directory = state / "collector"
    directory.mkdir(parents=True)
    (directory / "wal").write_text("kept\n")  # data an earlier run left behind
    before = directory.stat()
    with pytest.raises(EnvironmentProblem) as raised:
        ensure_state_dirs(model, str(state), euid=NOBODY_ELSE)
    problem = raised.value
    assert f"{directory} belongs to uid {before.st_uid}, collector runs as 473" in str(problem)
    assert problem.hint == f"sudo chown -R 473:473 {directory}"
    after = directory.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid,
        before.st_gid,
        before.st_mode,
    )


def test_new_directory_created_by_a_non_root_caller_is_refused(tmp_path: Path) -> None:
    """What ``invoke up`` without root used to leave behind silently."""
    model, state = _project(tmp_path, owner="0:0")
    if os.geteuid() == 0:
        pytest.skip("needs a caller that is not uid 0; the child test covers root machines")
    with pytest.raises(EnvironmentProblem) as raised:
        ensure_state_dirs(model, str(state))
    assert raised.value.hint == f"sudo chown 0:0 {state / 'collector'}"


# Imports first (the interpreter's own files may not be readable by uid 1000 here),
# then the drop, then preflight: everything preflight does runs as uid 1000.
CHILD = """
import json, os, sys
sys.path.insert(0, {repo!r})
from stackctl.errors import EnvironmentProblem
from stackctl.project.render import Model
from stackctl.operating.preflight import ensure_state_dirs
model = Model(json.loads(sys.stdin.read()))
os.setgroups([]); os.setgid({uid}); os.setuid({uid})
try:
    ensure_state_dirs(model, {state!r})
except EnvironmentProblem as problem:
    print(json.dumps({{"uid": os.geteuid(), "error": str(problem), "hint": problem.hint}}))
else:
    print(json.dumps({{"uid": os.geteuid(), "error": None}}))
"""


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary directory every uid can traverse (pytest's own is 0700 for root)."""
    path = Path(tempfile.mkdtemp(prefix="statetest-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_a_real_non_root_process_is_refused_and_changes_nothing(open_tmp: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping to another uid needs root")
    model, state = _project(open_tmp)
    state.mkdir()
    directory = state / "collector"
    directory.mkdir()
    os.chown(state, NOBODY_ELSE, NOBODY_ELSE)  # the caller may enter the root, not own the dir
    script = CHILD.format(uid=NOBODY_ELSE, repo=str(REPO), state=str(state))
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(model.data),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["uid"] == NOBODY_ELSE
    assert result["hint"] == f"sudo chown 473:473 {directory}"
    assert directory.stat().st_uid == 0


def test_root_chowns_an_empty_directory_and_refuses_one_with_data(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chowning needs root")
    model, state = _project(tmp_path)
    directory = state / "collector"
    assert ensure_state_dirs(model, str(state)) == 1  # created, then given to 473
    assert (directory.stat().st_uid, directory.stat().st_gid) == (473, 473)
    assert ensure_state_dirs(model, str(state)) == 0  # right owner: nothing to do
    os.chown(directory, NOBODY_ELSE, NOBODY_ELSE)
    (directory / "data").write_text("x")
    with pytest.raises(EnvironmentProblem) as raised:
        ensure_state_dirs(model, str(state))
    assert raised.value.hint == f"chown -R 473:473 {directory}"
    assert directory.stat().st_uid == NOBODY_ELSE  # data is never re-owned behind your back
