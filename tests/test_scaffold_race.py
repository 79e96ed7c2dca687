"""``secrets.scaffold`` cannot be raced into changing a file outside the project.

The attack: the project's owner swaps ``secrets/`` for a symlink to a folder
they do not own (e.g. with ``renameat2(RENAME_EXCHANGE)`` in a loop) while root
runs ``secrets.scaffold --fix`` or ``--rotate``, so that the chmod, chown or
replace lands on the victim. Here the race is made deterministic: the seam
between the scaffold's checks and its change (``_tighten``, ``_write_new``,
``_replace``) is wrapped so that the swap happens exactly there. Each test
asserts that the victim keeps content, mode and owner, that nothing appears
beside it, and that the run refuses with one line naming the swapped folder.
The umask tests prove that modes are the scaffold's, not the umask's.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import OPS_FIXTURE
from stackctl.commands import all_commands
from stackctl.edge import runner
from stackctl.operating import secrets as secrets_module

Snapshot = dict[str, tuple[str, int, int, int]]
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="chown and hard links need root")


@pytest.fixture
def project(copy_tree: Callable[[Path, str], Path]) -> Path:
    return copy_tree(OPS_FIXTURE, "ops")


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A folder outside the project, not the project's, holding files named like its secrets."""
    folder = tmp_path / "victim"
    folder.mkdir(mode=0o755)
    for name in ("web_token", "keeper_key", "passwd"):
        path = folder / name
        path.write_text(f"victim content of {name}\n")
        path.chmod(0o644)
    return folder


def snapshot(folder: Path) -> Snapshot:
    """Every entry of ``folder``: content digest (a failure never prints a value), mode,
    owner; a new or lost entry shows too."""
    taken: Snapshot = {}
    for path in sorted(folder.iterdir()):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        taken[path.name] = (digest, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return taken


def scaffold(capsys: pytest.CaptureFixture[str], project: Path, **flags: Any) -> tuple[int, str]:
    """``secrets.scaffold`` in this process (so a seam can be wrapped): exit code, stderr."""
    code = runner.execute(
        all_commands()["secrets.scaffold"], {"project_dir": str(project), **flags}
    )
    return code, capsys.readouterr().err


def swap_at(monkeypatch: pytest.MonkeyPatch, seam: str, project: Path, victim: Path) -> None:
    """The first call of ``seam`` happens after ``secrets/`` was swapped for a symlink."""
    original = getattr(secrets_module, seam)
    swapped: list[bool] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        if not swapped:
            (project / "secrets").rename(project / "secrets.before-swap")
            (project / "secrets").symlink_to(victim)
            swapped.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(secrets_module, seam, racing)


def refused_in_one_line(code: int, err: str, project: Path) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(errors) == 1, err
    assert f"secrets directory {project / 'secrets'} was replaced" in errors[0], err


@pytest.fixture
def created(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The project with every secret scaffolded (0600 in 0700, keeper_key owned 1000:1000)."""
    code, err = scaffold(capsys, project)
    assert code == 0, err
    return project


def test_fix_does_not_chmod_through_a_swapped_folder(
    created: Path, victim: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (created / "secrets" / "web_token").chmod(0o644)
    before = snapshot(victim)
    swap_at(monkeypatch, "_tighten", created, victim)
    code, err = scaffold(capsys, created, fix=True)
    assert snapshot(victim) == before
    refused_in_one_line(code, err, created)


@ROOT_ONLY
def test_fix_does_not_chown_through_a_swapped_folder(
    created: Path, victim: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chown(created / "secrets" / "keeper_key", 0, 0)  # declared 1000:1000: "wrong owner"
    before = snapshot(victim)
    swap_at(monkeypatch, "_tighten", created, victim)
    code, err = scaffold(capsys, created, fix=True)
    assert snapshot(victim) == before  # root-owned, 0644: not chowned to 1000, not chmodded
    refused_in_one_line(code, err, created)


def test_rotate_does_not_replace_through_a_swapped_folder(
    created: Path, victim: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(victim)
    swap_at(monkeypatch, "_replace", created, victim)
    code, err = scaffold(capsys, created, rotate="web_token", yes=True)
    assert snapshot(victim) == before  # same content, and no temporary file left beside it
    refused_in_one_line(code, err, created)


def test_a_new_secret_is_not_created_through_a_swapped_folder(
    project: Path, victim: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "secrets").mkdir(mode=0o700)
    for name in ("web_token", "keeper_key"):
        (victim / name).unlink()  # nothing there that an exclusive create would trip over
    before = snapshot(victim)
    swap_at(monkeypatch, "_write_new", project, victim)
    code, err = scaffold(capsys, project)
    assert snapshot(victim) == before
    refused_in_one_line(code, err, project)


@ROOT_ONLY
def test_fix_does_not_change_a_file_with_another_name(
    created: Path, victim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hard link to the victim in ``secrets/`` (no swap needed): refused, victim untouched."""
    token = created / "secrets" / "web_token"
    token.unlink()
    os.link(victim / "passwd", token)  # 0644: "wrong permissions"
    before = snapshot(victim)
    code, err = scaffold(capsys, created, fix=True)
    assert snapshot(victim) == before
    assert code == 2, err
    assert f"{token} has 2 hard links; refusing to change it" in err


# -- modes are the scaffold's, whatever the umask ----------------------------------------

NESTED = """\
services:
  app:
    image: busybox:1.36
    secrets: [token]
secrets:
  token: {file: ./state/secrets/token}
x-secret-generators:
  token: hex
"""


@pytest.fixture
def nested(tmp_path: Path) -> Path:
    """A project whose secret lives two folders down, neither of them there yet."""
    root = tmp_path / "nested"
    root.mkdir()
    (root / "compose.yaml").write_text(NESTED)
    (root / ".env.example").write_text("")
    return root


@pytest.fixture(params=[0o000, 0o277], ids=["umask-000", "umask-277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_modes_do_not_depend_on_the_umask(
    nested: Path, umask: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = scaffold(capsys, nested)
    assert code == 0, err
    assert mode(nested / "state") == 0o700  # an intermediate folder the scaffold made
    assert mode(nested / "state" / "secrets") == 0o700
    assert mode(nested / "state" / "secrets" / "token") == 0o600
    checked, err = scaffold(capsys, nested, check=True)
    assert checked == 0, err
