"""invoke tasks for the platform stack. Each task is a thin call into ``stackctl``.

invoke validate                 # VAL-OPT-001/002 matrix
invoke --help validate          # options of one task
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from stackctl import app


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


@task(
    iterable=["profiles"],
    help={
        "profiles": "validate only this combination, e.g. core,data (repeatable)",
        "format": "table (default), json or junit",
        "output": "write the report to this file instead of stdout",
        "env-file": "env file to render with (default: .env.example)",
    },
)
def validate(
    c: Context,
    profiles: list[str] | None = None,
    format: str = "table",
    output: str | None = None,
    env_file: str = app.VALIDATION_ENV_FILE,
) -> None:
    """Render VAL-OPT-001 and the VAL-OPT-002 profile matrix; exit 1 on any failure."""
    _finish(app.validate_command(".", profiles or [], format, output, env_file))


@task(
    iterable=["profiles"],
    help={
        "profiles": "check only this selection, e.g. core,data (repeatable)",
        "format": "table (default), json, sarif or junit",
        "output": "write the report to this file instead of stdout",
        "fail-on": "lowest severity that fails: critical, high (default), medium, low, info",
        "env-file": "env file to render with (default: .env.example)",
    },
)
def check(
    c: Context,
    profiles: list[str] | None = None,
    format: str = "table",
    output: str | None = None,
    fail_on: str = "high",
    env_file: str = app.VALIDATION_ENV_FILE,
) -> None:
    """Policy checks (checks/) over the VAL-OPT matrix, with the exceptions registry."""
    _finish(app.check_command(".", profiles or [], format, output, fail_on, env_file))


namespace = Collection(validate, check)
