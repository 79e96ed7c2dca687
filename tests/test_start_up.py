"""Start-up in proportion to the command: listing and help load no rule, engine or Swarm code.

`invoke --list`, `nox -l` and `--help` only need each command's declaration; the
work behind a command is imported when that command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO

# Packages that only the work of some command needs.
HEAVY = (
    "checks.rules",
    "checks.evaluator",
    "stackctl.checking.",
    "stackctl.operating.",
    "stackctl.runtime.",
    "stackctl.swarm.",
    "docker",
)

PROBE = """
import json, sys
{setup}
heavy = sorted(m for m in sys.modules if m.startswith({heavy!r}))
print(json.dumps(heavy))
"""


def loaded_after(setup: str) -> list[str]:
    code = PROBE.format(setup=setup, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup",
    [
        "import tasks",  # what `invoke --list` and `invoke --help TASK` load
        "import noxfile",  # what `nox -l` loads
        "from stackctl.edge.cli import build_parser; build_parser()",  # `stackctl --help`
    ],
)
def test_listing_and_help_load_no_work(setup: str) -> None:
    assert loaded_after(setup) == []


PARSE_ONLY = """
import sys
from stackctl.edge import cli
ran = []
cli.execute = lambda command, raw, debug: ran.append(command.name) or 0
cli.main({argv!r})
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "others"),
    [
        (["up", "--profiles", "core"], ["stackctl.commands.check", "stackctl.commands.deploy"]),
        (["--project-dir", ".", "ps"], ["stackctl.commands.up", "stackctl.commands.fix"]),
        (["secrets.scaffold", "--check"], ["stackctl.commands.validate", "stackctl.commands.loki"]),
    ],
)
def test_running_one_command_imports_only_its_own_module(
    argv: list[str], others: list[str]
) -> None:
    """``stackctl up`` parses its flags without importing any other command (or a rule)."""
    code = PARSE_ONLY.format(argv=argv) + "print(sorted(m for m in sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout
    assert all(f"'{module}'" not in loaded for module in others), loaded
    assert "'checks.rules'" not in loaded


def test_every_command_is_found_in_the_module_its_name_starts_with() -> None:
    """The convention ``commands_of`` relies on: a new verb module breaks it loudly here."""
    from stackctl.commands import all_commands, commands_of

    for name, command in all_commands().items():
        found = commands_of(name)
        assert found is not None and found[name] is command, name
    assert commands_of("frobnicate") is None and commands_of("options") is None
