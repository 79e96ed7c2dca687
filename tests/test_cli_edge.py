"""The command edge: discovered commands, shared groups, pure parsing, a report in every format."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import stackctl.commands
from cli import run
from conftest import OPS_FIXTURE
from stackctl.commands import HELPERS, Command, all_commands, command_modules
from stackctl.commands.options import RawValue
from stackctl.edge.cli import build_parser
from stackctl.project import binary, compose

DEAD_ENGINE = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/cli-edge.sock"}
COMMANDS = all_commands()


def test_every_module_but_the_helpers_is_discovered_in_its_declared_order() -> None:
    names = {info.name for info in pkgutil.iter_modules(stackctl.commands.__path__)}
    modules = command_modules()
    assert {m.__name__.rpartition(".")[2] for m in modules} == names - HELPERS
    orders = [m.ORDER for m in modules]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    # A module is named after its command (or the dotted family it holds).
    for module in modules:
        short = module.__name__.rpartition(".")[2]
        assert all(c.name.split(".")[0] == short for c in module.COMMANDS), short
    assert list(COMMANDS)[:4] == ["validate", "check", "gate", "profiles"]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_reports_as_table_and_json(name: str) -> None:
    command = COMMANDS[name]
    assert "report" in {group.name for group in command.groups}
    formats = next(o for o in command.options if o.name == "format").help
    assert formats.startswith("table (default)") and "json" in formats
    help_text = _subparser_help(name)
    assert "--format" in help_text and "--output" in help_text


def test_every_flag_is_declared_once_per_command() -> None:
    for name, command in COMMANDS.items():
        flags = [option.flag for option in command.options]
        assert len(flags) == len(set(flags)), name


def _subparser_help(name: str) -> str:
    parser = build_parser(COMMANDS)
    verbs = next(a for a in parser._subparsers._group_actions if a.dest == "command")
    return str(verbs.choices[name].format_help())


# -- parse() reads flags and files: no compose, no docker CLI, no engine ------------------


def _raw(command: Command[Any], project: Path, profiles: str) -> dict[str, RawValue]:
    raw: dict[str, RawValue] = {
        o.name: (False if o.kind == "flag" else None) for o in command.options
    }
    raw["project_dir"] = str(project)
    if "profiles" in raw:
        raw["profiles"] = [profiles]
    return raw


@pytest.fixture
def no_children(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to start a process or reach the engine, recorded instead of done."""
    attempts: list[str] = []

    class Refused(subprocess.Popen):
        def __init__(self, args: Any, *_: Any, **__: Any) -> None:
            attempts.append(" ".join(map(str, args)) if isinstance(args, list) else str(args))
            raise OSError("parse must not start a process")

    def no_engine() -> None:
        attempts.append("docker engine")
        raise OSError("parse must not ask the engine")

    from stackctl.operating import docker_api

    monkeypatch.setattr(subprocess, "Popen", Refused)
    monkeypatch.setattr(docker_api, "client", no_engine)
    # A compose binary found earlier in this process must be found again, never reused.
    binary.default_binary.cache_clear()
    yield attempts
    binary.default_binary.cache_clear()


@pytest.mark.parametrize("profiles", ["core", "nope"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_parse_starts_no_process_and_asks_no_engine(
    name: str, profiles: str, copy_tree, no_children: list[str]
) -> None:
    """Even an unknown profile parses: whether it exists is the run's first question."""
    project = copy_tree(OPS_FIXTURE, "ops")
    command = COMMANDS[name]
    command.parse(_raw(command, project, profiles))
    assert no_children == []
    assert compose.CHILDREN.snapshot() == []


def test_verify_names_the_compose_project_with_project_name(copy_tree) -> None:
    command = COMMANDS["verify"]
    raw = _raw(command, copy_tree(OPS_FIXTURE, "ops"), "core")
    assert command.parse({**raw, "project_name": "other"}).project.name == "other"
    assert "project" not in {o.name for o in command.options}


def test_logs_follow_streams_so_it_takes_no_json_or_output(copy_tree) -> None:
    from stackctl.errors import UsageError

    command = COMMANDS["logs"]
    raw = {**_raw(command, copy_tree(OPS_FIXTURE, "ops"), "core"), "follow": True}
    with pytest.raises(UsageError, match="--follow streams"):
        command.parse({**raw, "format": "json"})


# -- failures come back as the report ------------------------------------------------------


def stackctl_json(project: Path, *args: str, env: dict[str, str]) -> tuple[int, Any, str]:
    done = run(["-m", "stackctl", "--project-dir", str(project), *args], env=env)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.slow
def test_up_preflight_failure_is_a_json_envelope_without_an_engine(copy_tree) -> None:
    project = copy_tree(OPS_FIXTURE, "ops")
    code, report, stderr = stackctl_json(
        project, "up", "--profiles", "core", "--format", "json", env=DEAD_ENGINE
    )
    assert code == 2 and report["exit_code"] == 2 and report["ok"] is False
    assert report["command"] == "up" and report["started"] is False
    assert "does not answer at unix:///nonexistent/cli-edge.sock" in report["problem"]["message"]
    assert "error: the Docker engine does not answer" in stderr  # the one line stays


@pytest.mark.slow
def test_up_unknown_profile_is_a_json_envelope_too(copy_tree) -> None:
    project = copy_tree(OPS_FIXTURE, "ops")
    code, report, _ = stackctl_json(
        project, "up", "--profiles", "nope", "--format", "json", env=DEAD_ENGINE
    )
    assert code == 2 and report["problem"]["message"] == "unknown profile: nope"
    assert "known profiles: app" in report["problem"]["hint"]


@pytest.mark.slow
def test_deploy_preflight_failure_is_a_json_envelope(copy_tree) -> None:
    """The compose-side steps run before any Swarm call: a missing secret needs no engine."""
    project = copy_tree(OPS_FIXTURE, "ops")
    code, report, _ = stackctl_json(
        project, "deploy", "--profiles", "core", "--stack", "edge", "--format", "json",
        env=DEAD_ENGINE,
    )  # fmt: skip
    assert code == 2 and report["ok"] is False and report["stack"] == "edge"
    assert "secret file(s) not ready: web_token (missing)" in report["problem"]["message"]
    assert report["gaps"] == []


@pytest.mark.slow
def test_secrets_and_loki_install_speak_json(copy_tree) -> None:
    project = copy_tree(OPS_FIXTURE, "ops")
    code, report, _ = stackctl_json(
        project, "secrets.scaffold", "--check", "--format", "json", env=DEAD_ENGINE
    )
    assert code == 1 and {"secret", "path", "kind", "status"} <= set(report["secrets"][0])
    code, report, _ = stackctl_json(
        project, "loki.install", "--dry-run", "--format", "json", env=DEAD_ENGINE
    )
    assert code == 0 and report["dry_run"] is True and "docker plugin install" in report["command"]


@pytest.mark.engine
def test_up_missing_secret_on_a_live_engine_reports_the_steps_as_json(
    copy_tree, docker_engine, test_image: str, tmp_path: Path
) -> None:
    project = copy_tree(OPS_FIXTURE, "ops")
    name = f"edgejson{os.getpid()}"
    (project / ".env").write_text(
        f"COMPOSE_PROJECT_NAME={name}\nDEFAULT_MOUNT_VOLUME_PATH={tmp_path / 'state'}\n"
        f"LOG_DRIVER=local\nTEST_IMAGE={test_image}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "COMPOSE_BIN"}
    code, report, stderr = stackctl_json(
        project, "up", "--profiles", "core", "--format", "json", env=env
    )
    assert code == 2, stderr
    steps = {step["step"]: step["ok"] for step in report["preflight"]}
    assert steps == {"engine": True, "profiles": True, "secrets": False}
    assert report["problem"]["message"] == "1 secret file(s) not ready: web_token (missing)"
    assert report["problem"]["hint"].startswith("invoke secrets.scaffold")
    assert not docker_engine.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={name}"}
    )
