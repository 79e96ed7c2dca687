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


namespace = Collection(validate)
