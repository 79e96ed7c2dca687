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
