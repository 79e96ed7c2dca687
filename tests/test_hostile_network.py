"""Hostile projects that try to make a static command reach the network or read the shell.

A project another team hands over may ``include`` (or ``extends``) a remote git
repository or OCI artifact whose URL interpolates a variable of the caller's
environment (a CI token). compose's loaders would fetch it with the runner's
credential helpers. Each test starts a real listener on loopback (a random
port), points the project at it and proves that ``check``, ``validate``,
``profiles`` and ``gate`` open no connection, end with the contract's exit code
and a line naming the reference as written, and never print the token. The
last tests prove that a process variable is not interpolated at all by a static
command: the env file given is the only source of ``${VAR}``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.project import compose as compose_module
from stackctl.project.compose import Compose, Project

DEAD_ENGINE = "unix:///nonexistent/hostile-network.sock"
TOKEN = "tok3n-m4rker-5e1f"  # stands for a CI secret in the caller's environment
LEAK = "leakm4rker9c2d"  # a harmless value a project must not be able to read from the shell
# The exit code each static command ends with when every render names a remote reference:
# validate fails its rows (1); check, gate and profiles have nothing rendered at all (2).
STATIC_COMMANDS = {"check": 2, "validate": 1, "profiles": 2, "gate": 2}


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection (and its first bytes)."""

    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.1)
        self.port: int = self.server.getsockname()[1]
        self.connections: list[bytes] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(1.0)
                try:
                    first = connection.recv(4096)
                except OSError:
                    first = b""
                self.connections.append(first)  # then closed: a fetch fails fast

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    started = Listener()
    try:
        yield started
    finally:
        started.stop()


def git_include(port: int) -> tuple[str, str]:
    reference = f"http://127.0.0.1:{port}/${{SOME_TOKEN}}/repo.git"
    compose = f"include:\n  - {reference}\nservices:\n  web:\n    image: busybox:1.36\n"
    return reference, compose


def oci_include(port: int) -> tuple[str, str]:
    reference = f"oci://127.0.0.1:{port}/${{SOME_TOKEN}}/stack:1.0"
    compose = f"include:\n  - {reference}\nservices:\n  web:\n    image: busybox:1.36\n"
    return reference, compose


def git_extends(port: int) -> tuple[str, str]:
    reference = f"http://127.0.0.1:{port}/${{SOME_TOKEN}}/repo.git"
    compose = (
        "services:\n"
        "  web:\n"
        "    image: busybox:1.36\n"
        "  job:\n"
        "    profiles: [tools]\n"
        "    extends:\n"
        f"      file: {reference}\n"
        "      service: base\n"
    )
    return reference, compose


REMOTES = {"git-include": git_include, "oci-include": oci_include, "git-extends": git_extends}


def make_project(base: Path, compose: str, env_example: str = "") -> Path:
    root = base / "their-stack"
    root.mkdir()
    (root / "compose.yaml").write_text(compose, encoding="utf-8")
    (root / ".env.example").write_text(env_example, encoding="utf-8")
    # The platform set: LOG-001 quotes the logging driver, where a leaked value would show.
    (root / ".stackctl.toml").write_text('rule-set = "platform"\n', encoding="utf-8")
    return root


def stackctl(root: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STACKCTL_DEBUG", "COMPOSE_BIN")}
    env.update({"DOCKER_HOST": DEAD_ENGINE, **extra_env})
    return subprocess.run(
        [sys.executable, "-m", "stackctl", *args, "--project-dir", str(root)],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.parametrize("remote", sorted(REMOTES))
@pytest.mark.parametrize("command", sorted(STATIC_COMMANDS))
def test_a_remote_reference_is_named_never_fetched(
    tmp_path: Path, listener: Listener, command: str, remote: str
) -> None:
    reference, compose = REMOTES[remote](listener.port)
    root = make_project(tmp_path, compose)
    done = stackctl(root, command, SOME_TOKEN=TOKEN)
    output = done.stdout + done.stderr
    assert listener.connections == [], f"{command} reached the listener: {listener.connections}"
    assert TOKEN not in output, output
    assert "Traceback" not in output, output
    assert done.returncode == STATIC_COMMANDS[command], output
    named = [line for line in output.splitlines() if reference in line]
    assert named, output
    if command != "validate":  # validate names it on each row of its table
        assert len(named) == 1, output
        assert "never fetched" in named[0], output


@pytest.mark.slow
def test_an_operating_command_does_not_fetch_either(tmp_path: Path, listener: Listener) -> None:
    """``secrets.scaffold --check`` renders the project (no engine needed): no fetch there too."""
    reference, compose = git_include(listener.port)
    root = make_project(tmp_path, compose)
    done = stackctl(root, "secrets.scaffold", "--check", SOME_TOKEN=TOKEN)
    output = done.stdout + done.stderr
    assert listener.connections == [], f"reached the listener: {listener.connections}"
    assert done.returncode == 2, output
    assert TOKEN not in output, output
    assert [line for line in output.splitlines() if reference in line], output


# -- the caller's environment is not an input of a static command --------------------------

LEAKY = (
    "services:\n"
    "  web:\n"
    "    image: busybox:1.36\n"
    "    logging:\n"
    '      driver: "${LEAKY_VAR:-local}"\n'  # quoted by LOG-001 in every report
    "  tool:\n"
    "    image: busybox:1.36\n"
    '    profiles: ["${LEAKY_VAR:-tools}"]\n'  # listed by `profiles`
)
LEAKY_RUNS = [
    ("check", "--format", "json"),
    ("check", "--format", "sarif"),
    ("check", "--format", "table"),
    ("profiles", "--format", "table"),
    ("profiles", "--format", "json"),
    ("gate", "--format", "json"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args", LEAKY_RUNS, ids=["-".join(a[::2]) for a in LEAKY_RUNS])
def test_a_process_variable_is_not_interpolated(tmp_path: Path, args: tuple[str, ...]) -> None:
    root = make_project(tmp_path, LEAKY)
    done = stackctl(root, *args, LEAKY_VAR=LEAK)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode in (0, 1), output
    assert LEAK not in output, output


@pytest.mark.slow
def test_the_env_file_given_is_the_source_of_variables(tmp_path: Path) -> None:
    """What a static command should interpolate, the user writes in the env file."""
    root = make_project(tmp_path, LEAKY, env_example="LEAKY_VAR=fromthefile\n")
    done = stackctl(root, "check", "--format", "json", LEAKY_VAR=LEAK)
    assert LEAK not in done.stdout + done.stderr
    drivers = [f["message"] for f in json.loads(done.stdout)["findings"] if f["rule"] == "LOG-001"]
    assert "logs with driver fromthefile, not loki" in drivers


def test_a_static_project_passes_only_the_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "CI_JOB_TOKEN", "HTTPS_PROXY", "DOCKER_AUTH_CONFIG"):
        monkeypatch.setenv(name, LEAK)
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)
    monkeypatch.setenv("COMPOSE_EXPERIMENTAL_GIT_REMOTE", "true")  # the caller cannot undo it
    monkeypatch.setenv("COMPOSE_FILE", "other.yml")
    project = Project(Path("/nonexistent"), static=True)
    env = Compose(project).environment()
    assert LEAK not in env.values()
    allowed = (
        compose_module.STATIC_ENVIRONMENT
        | set(compose_module.NO_REMOTE_LOADERS)
        | set(compose_module.GO_RUNTIME_SETTINGS)
    )
    assert set(env) <= allowed | {"COMPOSE_PROFILES"}
    assert env["DOCKER_HOST"] == DEAD_ENGINE
    assert "COMPOSE_FILE" not in env
    assert env["COMPOSE_EXPERIMENTAL_GIT_REMOTE"] == "false"
    assert env["COMPOSE_EXPERIMENTAL_OCI_REMOTE"] == "false"


def test_an_operating_project_keeps_the_environment_but_not_the_loaders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TAG_FROM_SHELL", "1.2.3")  # `TAG=... up` is how people operate
    monkeypatch.setenv("COMPOSE_EXPERIMENTAL_OCI_REMOTE", "true")
    project = Project(Path("/nonexistent"))
    env = Compose(project).environment()
    assert env["TAG_FROM_SHELL"] == "1.2.3"
    assert env["COMPOSE_EXPERIMENTAL_GIT_REMOTE"] == "false"
    assert env["COMPOSE_EXPERIMENTAL_OCI_REMOTE"] == "false"


def test_the_static_commands_parse_a_static_project(tmp_path: Path) -> None:
    """One mechanism: the project a command parses says static or operating."""
    from stackctl.commands import all_commands

    root = make_project(tmp_path, "services:\n  web:\n    image: busybox:1.36\n")
    commands = all_commands()
    for name in STATIC_COMMANDS:
        options = commands[name].parse({"project_dir": str(root)})
        project = getattr(options, "project", None) or options.check.project  # gate
        assert project.static, name
    for name in ("up", "down", "ps", "secrets.scaffold"):
        # up asks for its profiles explicitly; the others default to every profile.
        raw = {"project_dir": str(root), "profiles": ["core"] if name == "up" else None}
        options = commands[name].parse(raw)
        assert not options.project.static, name
