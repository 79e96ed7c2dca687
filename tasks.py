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
        "exhaustive": "every non-empty profile selection (127), derived from one render",
        "seed": "seed of the cross-check sample (default: random, printed)",
        "sample": "selections rendered for real to cross-check the derivation (default 2)",
    },
)
def validate(
    c: Context,
    profiles: list[str] | None = None,
    format: str = "table",
    output: str | None = None,
    env_file: str = app.VALIDATION_ENV_FILE,
    exhaustive: bool = False,
    seed: int | None = None,
    sample: int = 2,
) -> None:
    """Render VAL-OPT-001 and the VAL-OPT-002 profile matrix; exit 1 on any failure."""
    _finish(
        app.validate_command(
            ".", profiles or [], format, output, env_file, exhaustive, seed, sample
        )
    )


@task(
    iterable=["profiles"],
    help={
        "profiles": "check only this selection, e.g. core,data (repeatable)",
        "format": "table (default), json, sarif or junit",
        "output": "write the report to this file instead of stdout",
        "fail-on": "lowest severity that fails: critical, high (default), medium, low, info",
        "env-file": "env file to render with (default: .env.example)",
        "seed": "seed of the cross-check sample (default: random, printed)",
        "sample": "selections rendered for real to cross-check the derivation (default 2)",
    },
)
def check(
    c: Context,
    profiles: list[str] | None = None,
    format: str = "table",
    output: str | None = None,
    fail_on: str = "high",
    env_file: str = app.VALIDATION_ENV_FILE,
    seed: int | None = None,
    sample: int = 2,
) -> None:
    """Policy checks (checks/) over the VAL-OPT matrix, with the exceptions registry."""
    _finish(app.check_command(".", profiles or [], format, output, fail_on, env_file, seed, sample))


@task(
    help={
        "format": "table (default) or json",
        "env-file": "env file to render with (default: .env.example)",
    }
)
def profiles(c: Context, format: str = "table", env_file: str = app.VALIDATION_ENV_FILE) -> None:
    """Profile dependency graph: each profile, its services, the profiles it needs and why."""
    _finish(app.profiles_command(".", format, env_file))


PROFILES_HELP = "profiles, e.g. core,data (comma-separated, repeatable)"
ENV_HELP = "env file (default: .env, else .env.example)"


@task(
    iterable=["profiles"],
    help={
        "profiles": PROFILES_HELP + "; needed profiles are added automatically",
        "wait-timeout": "seconds to wait for every service to be healthy (default 180)",
        "down-on-failure": "remove the selection's containers when it does not become healthy",
        "env-file": ENV_HELP,
    },
)
def up(
    c: Context,
    profiles: list[str] | None = None,
    wait_timeout: int = 180,
    down_on_failure: bool = False,
    env_file: str | None = None,
) -> None:
    """Preflight (engine, secrets, state, Loki driver, images), start, wait for healthy."""
    _finish(app.up_command(".", profiles or [], wait_timeout, down_on_failure, env_file))


@task(
    iterable=["profiles"],
    help={
        "profiles": PROFILES_HELP + " (default: every profile)",
        "volumes": "also delete named volumes (needs --yes-delete-volumes)",
        "yes-delete-volumes": "confirm --volumes",
        "env-file": ENV_HELP,
    },
)
def down(
    c: Context,
    profiles: list[str] | None = None,
    volumes: bool = False,
    yes_delete_volumes: bool = False,
    env_file: str | None = None,
) -> None:
    """Stop and remove containers; volumes and host state are kept unless confirmed."""
    _finish(app.down_command(".", profiles or [], volumes, yes_delete_volumes, env_file))


@task(help={"env-file": ENV_HELP})
def ps(c: Context, env_file: str | None = None) -> None:
    """Table of service, profile, state, health and published ports."""
    _finish(app.ps_command(".", env_file))


@task(
    help={
        "service": "only this service",
        "follow": "keep streaming",
        "tail": "lines per service (default 100)",
        "env-file": ENV_HELP,
    }
)
def logs(
    c: Context,
    service: str | None = None,
    follow: bool = False,
    tail: int = 100,
    env_file: str | None = None,
) -> None:
    """Service logs with every secret value masked."""
    _finish(app.logs_command(".", service, follow, tail, env_file))


@task(
    name="scaffold",
    help={
        "check": "change nothing; exit 1 when a secret is missing, empty or loose",
        "rotate": "replace the value of this one secret (needs --yes)",
        "yes": "confirm --rotate",
        "fix": "tighten modes/owners of existing files (contents untouched)",
        "env-file": ENV_HELP,
    },
)
def secrets_scaffold(
    c: Context,
    check: bool = False,
    rotate: str | None = None,
    yes: bool = False,
    fix: bool = False,
    env_file: str | None = None,
) -> None:
    """Create every missing secret file (0600 in 0700); never overwrite, never print values."""
    _finish(app.secrets_command(".", check, rotate, yes, fix, env_file))


@task(
    name="preflight", iterable=["profiles"], help={"profiles": PROFILES_HELP, "env-file": ENV_HELP}
)
def loki_preflight(
    c: Context, profiles: list[str] | None = None, env_file: str | None = None
) -> None:
    """Loki driver plugin installed and enabled, loki-url reachable, hang-safe options."""
    _finish(app.loki_preflight_command(".", profiles or [], env_file))


@task(name="install", help={"dry-run": "print the pinned install command instead of running it"})
def loki_install(c: Context, dry_run: bool = False) -> None:
    """Install the pinned Loki logging driver plugin with --alias loki."""
    _finish(app.loki_install_command(dry_run))


namespace = Collection(validate, check, profiles, up, down, ps, logs)
namespace.add_collection(Collection("secrets", secrets_scaffold))
namespace.add_collection(Collection("loki", loki_preflight, loki_install))
