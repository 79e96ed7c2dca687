"""The exit-code contract, enforced by stackctl.edge.runner around every command."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from stackctl.commands import Command, all_commands
from stackctl.commands.options import Raw
from stackctl.edge.runner import execute
from stackctl.errors import EnvironmentProblem, StackError, UsageError
from stackctl.reporting import Outcome, ReportTo

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow


def command_raising(error: BaseException) -> Command[None]:
    def run(_: None) -> Outcome:
        raise error

    return Command("boom", "Raises.", (), lambda _raw: None, run)


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (StackError("3 findings"), 1, "error: 3 findings"),
        (UsageError("bad flag", hint="try --x"), 2, "error: bad flag\n  hint: try --x"),
        (EnvironmentProblem("no engine"), 2, "error: no engine"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y.yml"),
            2,
            "error: /x/y.yml: No such file or directory",
        ),
        (
            RuntimeError("boom\nwith a second line"),
            2,
            "error: internal: RuntimeError: boom with a second line",
        ),
    ],
)
def test_every_ending_has_its_exit_code_and_one_line(error, code, line, capsys) -> None:
    assert execute(command_raising(error), {}) == code
    err = capsys.readouterr().err
    assert line in err and "Traceback" not in err


def test_internal_error_hints_at_debug_and_debug_shows_the_traceback(capsys) -> None:
    assert execute(command_raising(ValueError("odd")), {}) == 2
    assert "hint: rerun with --debug" in capsys.readouterr().err
    assert execute(command_raising(ValueError("odd")), {}, debug=True) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_report_and_its_problem_both_reach_the_user(capsys) -> None:
    outcome = Outcome("x", exit_code=2, text="the table", problem=EnvironmentProblem("step"))
    command = Command("x", "Reports.", (), lambda _raw: None, lambda _o: outcome)
    assert execute(command, {}) == 2
    captured = capsys.readouterr()
    assert "the table" in captured.out and "error: step" in captured.err


def test_unwritable_output_keeps_the_report_on_stdout(tmp_path: Path, capsys) -> None:
    target = tmp_path / "gone" / "report.json"

    def parse(_raw: Raw) -> ReportTo:
        return ReportTo("json", target)

    def run(_options: ReportTo) -> Outcome:
        (tmp_path / "gone").write_text("now a file")  # the folder turned into a file meanwhile
        return Outcome("x", data={"answer": 42})

    command = Command("x", "Writes.", (), parse, run, lambda options: options)
    assert execute(command, {}) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["answer"] == 42
    assert f"cannot write the report to {target}" in captured.err


def test_json_envelope_carries_schema_and_package_version(capsys) -> None:
    from importlib.metadata import version

    command = Command(
        "x", "Data.", (), lambda _raw: ReportTo("json"), lambda _o: Outcome("x"), lambda o: o
    )
    assert execute(command, {}) == 0
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["schema_version"] == 2  # bumped when verify took the shared finding keys
    assert envelope["tool"]["version"] == version("platform-stack")
    assert envelope["command"] == "x" and envelope["ok"] is True


def test_every_command_declares_help_for_every_option() -> None:
    for name, command in all_commands().items():
        assert command.summary, name
        for option in command.options:
            assert option.help.strip(), f"{name} {option.flag}"


@pytest.mark.parametrize("name", list(all_commands()))
def test_help_of_every_entry_point_describes_every_option(name: str) -> None:
    from cli import run

    command = all_commands()[name]
    module = run(["-m", "stackctl", name, "--help"])
    invoke = run(["-m", "invoke", "--help", name])
    assert module.returncode == 0 and invoke.returncode == 0, module.stderr + invoke.stderr
    for option in command.options:
        assert option.flag in module.stdout, f"python -m stackctl {name}: {option.flag}"
        assert option.flag in invoke.stdout, f"invoke {name}: {option.flag}"
    assert command.summary.split(";")[0][:40] in " ".join(invoke.stdout.split())
