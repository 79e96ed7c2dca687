"""infra/common/file-env.sh behaves like postgres' ``file_env``, under every shell it meets.

The pinned images run it with busybox ash, dash or bash, so each test runs it
with each of them that is installed here (Debian's ``/bin/sh`` is dash; the
busybox case needs ``busybox-static`` or ``busybox``). ``/run/secrets`` is a
tmpfs in a private mount namespace, so nothing reaches the host's ``/run``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from conftest import REPO

FILE_ENV = REPO / "infra" / "common" / "file-env.sh"
SHELLS = {
    "sh": ["/bin/sh"],
    "busybox": ["/bin/busybox", "sh"],
    "bash": ["/bin/bash"],
}
PATH = "/usr/local/bin:/usr/bin:/bin"
VALUE = "s3cret-value"  # a fixed stand-in, not a secret of anything
# Mounts a tmpfs on /run, copies the prepared secrets into /run/secrets (symlinks
# kept), then runs the rest of the arguments.
INSIDE = (
    'mount -t tmpfs -o size=1m none /run && mkdir /run/secrets && cp -a "$1"/. /run/secrets/'
    ' && shift && exec "$@"'
)


@pytest.fixture(params=sorted(SHELLS))
def shell(request: pytest.FixtureRequest) -> list[str]:
    argv = SHELLS[request.param]
    if not Path(argv[0]).exists():
        pytest.skip(f"{argv[0]} is not installed (apt-get install busybox-static)")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a private /run/secrets")
    return argv


def run(
    shell: list[str],
    tmp_path: Path,
    env: Mapping[str, str],
    command: list[str],
    secrets: Mapping[str, str] | None = None,
    wrapper: bool = True,
) -> subprocess.CompletedProcess[str]:
    """The wrapper (or, with ``wrapper=False``, a bare ``exec "$@"``) under ``shell``."""
    folder = tmp_path / "secrets"
    folder.mkdir(exist_ok=True)
    for name, content in (secrets or {}).items():
        if content.startswith("->"):
            (folder / name).symlink_to(content[2:])
        else:
            (folder / name).write_text(content)
    script = str(FILE_ENV) if wrapper else str(tmp_path / "bare.sh")
    if not wrapper:
        Path(script).write_text('exec "$@"\n')
    assignments = [f"{key}={value}" for key, value in env.items()]
    private = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", INSIDE, "sh"]
    done = subprocess.run(
        [
            *private,
            str(folder),
            "env",
            "-i",
            f"PATH={PATH}",
            *assignments,
            *shell,
            script,
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"cannot unshare here: {done.stderr.strip()}")
    return done


def environment(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def test_a_secret_file_becomes_the_variable_and_the_file_variable_goes(
    shell: list[str], tmp_path: Path
) -> None:
    env = {"DB_PASSWORD_FILE": "/run/secrets/db", "OTHER_FILE": "/etc/hostname"}
    done = run(shell, tmp_path, env, ["env"], {"db": VALUE + "\n"})
    assert done.returncode == 0, done.stderr
    seen = environment(done.stdout)
    assert seen["DB_PASSWORD"] == VALUE and "DB_PASSWORD_FILE" not in seen
    assert seen["OTHER_FILE"] == "/etc/hostname" and "OTHER" not in seen  # not a secrets mount


def test_no_variable_of_the_wrapper_reaches_the_command(shell: list[str], tmp_path: Path) -> None:
    """A caller's ``value``, ``path``, ``var`` and ``name`` stay as they were; nothing is added."""
    env = {
        "DB_PASSWORD_FILE": "/run/secrets/db",
        "value": "kept",
        "path": "kept",
        "var": "kept",
        "name": "kept",
    }
    bare = environment(run(shell, tmp_path, env, ["env"], {"db": VALUE}, wrapper=False).stdout)
    wrapped = environment(run(shell, tmp_path, env, ["env"], {"db": VALUE}).stdout)
    expected = {k: v for k, v in bare.items() if k != "DB_PASSWORD_FILE"} | {"DB_PASSWORD": VALUE}
    assert wrapped == expected


MISUSES = [
    (
        "both set",
        {"DB_PASSWORD": "direct", "DB_PASSWORD_FILE": "/run/secrets/db"},
        {"db": VALUE},
        "both DB_PASSWORD and DB_PASSWORD_FILE are set",
    ),
    (
        "dot-dot out of /run/secrets",
        {"DB_PASSWORD_FILE": "/run/secrets/../../etc/hostname"},
        {},
        "DB_PASSWORD_FILE leaves /run/secrets",
    ),
    (
        "symlink out of /run/secrets",
        {"DB_PASSWORD_FILE": "/run/secrets/db"},
        {"db": "->/etc/hostname"},
        "DB_PASSWORD_FILE points to a symlink",
    ),
    (
        "empty file",
        {"DB_PASSWORD_FILE": "/run/secrets/db"},
        {"db": ""},
        "DB_PASSWORD_FILE points to an empty file",
    ),
    (
        "only a newline",
        {"DB_PASSWORD_FILE": "/run/secrets/db"},
        {"db": "\n"},
        "DB_PASSWORD_FILE points to an empty file",
    ),
    (
        "missing file",
        {"DB_PASSWORD_FILE": "/run/secrets/nothing"},
        {},
        "DB_PASSWORD_FILE points to an unreadable file",
    ),
    (
        "a folder",
        {"DB_PASSWORD_FILE": "/run/secrets/"},
        {},
        "DB_PASSWORD_FILE points to an unreadable file",
    ),
]


@pytest.mark.parametrize(
    ("case", "env", "secrets", "message"), MISUSES, ids=[m[0] for m in MISUSES]
)
def test_each_misuse_stops_with_a_message_before_the_command(
    shell: list[str],
    tmp_path: Path,
    case: str,
    env: dict[str, str],
    secrets: dict[str, str],
    message: str,
) -> None:
    done = run(shell, tmp_path, env, ["echo", "the command ran"], secrets)
    assert done.returncode == 1, (case, done.stderr)
    assert f"file-env: {message}" in done.stderr, case
    assert "the command ran" not in done.stdout, case
    assert VALUE not in done.stdout + done.stderr, case


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ([], 2, "file-env: no command to run"),
        (["no-such-command-here", "--flag"], 127, "file-env: command not found: no-such-command"),
    ],
    ids=["no command", "unknown command"],
)
def test_a_missing_command_fails_with_a_message(
    shell: list[str], tmp_path: Path, command: list[str], code: int, message: str
) -> None:
    env = {"DB_PASSWORD_FILE": "/run/secrets/db"}
    done = run(shell, tmp_path, env, command, {"db": VALUE})
    assert done.returncode == code, done.stderr
    assert message in done.stderr


def test_the_wrapper_is_posix_sh() -> None:
    """dash -n parses only POSIX syntax (bash-isms like ``[[`` or ``local`` would show here)."""
    text = FILE_ENV.read_text()
    for bashism in ("[[", "local ", "${!", "function ", "<(", "$'"):
        assert bashism not in text, bashism
    if Path("/bin/dash").exists():
        done = subprocess.run(["/bin/dash", "-n", str(FILE_ENV)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
