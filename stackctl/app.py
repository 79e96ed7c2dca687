"""Commands behind ``invoke`` tasks, nox sessions and ``python -m stackctl``.

Each command returns an exit code: 0 ok, 1 findings or failures, 2 usage or
environment error. User mistakes end in one line plus a hint, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

from stackctl import report
from stackctl.compose import Compose, Project
from stackctl.errors import StackError
from stackctl.profiles import parse_profiles
from stackctl.validate import render_results, validate

P = ParamSpec("P")
VALIDATION_ENV_FILE = ".env.example"


def guarded(command: Callable[P, int]) -> Callable[P, int]:
    """Turn StackError into its one-line message and exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return command(*args, **kwargs)
        except StackError as error:
            print(error.render(), file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper


def project_for(project_dir: str | Path = ".", env_file: str | None = None) -> Project:
    return Project.at(project_dir, env_file)


@guarded
def validate_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    fmt: str = "table",
    output: str | None = None,
    env_file: str = VALIDATION_ENV_FILE,
) -> int:
    """VAL-OPT-001 and the VAL-OPT-002 matrix; exit 1 when any combination fails."""
    report.check_format(fmt, ("table", "json", "junit"))
    compose = Compose(project_for(project_dir, env_file))
    results = validate(compose, parse_profiles(profiles))
    report.emit(render_results(results, fmt), output)
    return 0 if all(r.ok for r in results) else 1
