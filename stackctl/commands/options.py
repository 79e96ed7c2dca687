"""Typed options at the edge: each command's flags declared once, parsed once.

An ``Option`` declares one flag (name, kind, help, default). The same
declarations build the ``python -m stackctl`` subcommands and the invoke
tasks, so every entry point accepts the same flags with the same help. Raw
values (strings, lists of strings, booleans) are turned into typed, frozen
option objects by the parse helpers below; every user mistake ends there as a
``UsageError`` or ``EnvironmentProblem`` naming the flag, value or path.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from checks.finding import Severity
from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.project.compose import Project
from stackctl.project.profiles import ALL_PROFILES, parse_profiles

Kind = Literal["text", "number", "flag", "list"]
RawValue = str | bool | list[str] | None
Raw = Mapping[str, RawValue]

VALIDATION_ENV_FILE = ".env.example"
OPS_ENV_FILE = ".env"


@dataclass(frozen=True)
class Option:
    """One flag of one command, as every entry point shows it."""

    name: str  # python identifier; the flag is --name-with-dashes
    kind: Kind
    help: str
    default: str | None = None  # numbers too are declared as text, parsed by the command
    short: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


# -- options every command that reads the project shares ----------------------------


def project_options(env_help: str) -> tuple[Option, ...]:
    return (
        Option("project_dir", "text", "project directory (default: the current directory)"),
        Option(
            "file",
            "list",
            "compose file (repeatable; default: the one compose picks, e.g. docker-compose.yml)",
            short="f",
        ),
        Option("env_file", "text", env_help),
        Option(
            "project_name",
            "text",
            "compose project name (default: COMPOSE_PROJECT_NAME, else compose's own choice)",
        ),
    )


VALIDATION_ENV_HELP = f"env file to render with (default: {VALIDATION_ENV_FILE})"
OPS_ENV_HELP = f"env file (default: {OPS_ENV_FILE}, else {VALIDATION_ENV_FILE} with a notice)"


def text(raw: Raw, name: str) -> str | None:
    value = raw.get(name)
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        raise UsageError(f"--{name.replace('_', '-')} takes one value")
    return value


def flag(raw: Raw, name: str) -> bool:
    return bool(raw.get(name))


def values(raw: Raw, name: str) -> list[str]:
    value = raw.get(name)
    if value is None or value is False:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def number(raw: Raw, name: str, default: int, *, minimum: int = 1, maximum: int = 86_400) -> int:
    """A whole number in ``[minimum, maximum]``, or a usage error naming the flag and value."""
    value = text(raw, name)
    if value is None:
        return default
    flag_name = "--" + name.replace("_", "-")
    try:
        parsed = int(value.strip())
    except ValueError:
        raise UsageError(
            f"{flag_name} must be a whole number, got {value!r}",
            hint=f"e.g. {flag_name} {default}",
        ) from None
    if not minimum <= parsed <= maximum:
        raise UsageError(
            f"{flag_name} must be between {minimum} and {maximum}, got {parsed}",
            hint=f"e.g. {flag_name} {default}",
        )
    return parsed


def choice(raw: Raw, name: str, allowed: Sequence[str], default: str) -> str:
    value = text(raw, name) or default
    if value not in allowed:
        raise UsageError(
            f"unknown --{name.replace('_', '-')} {value!r}",
            hint=f"choose one of: {', '.join(allowed)}",
        )
    return value


def severity(raw: Raw, name: str, default: str) -> Severity:
    value = text(raw, name) or default
    try:
        return Severity.parse(value)
    except ValueError as error:
        raise UsageError(f"--{name.replace('_', '-')}: {error}") from None


def selection(raw: Raw, name: str = "profiles") -> tuple[str, ...]:
    """Profiles from a repeatable, comma-separated flag. ``()`` means the flag was not given.

    A flag that is given but names nothing (``''``, ``,,``) is a usage error in
    every command: "every profile" is only ever said as ``'*'``.
    """
    given = values(raw, name)
    parsed = parse_profiles(given)
    if given and not parsed:
        raise UsageError(
            f"--{name} {given[0]!r} names no profile",
            hint=f"name profiles, e.g. --{name} core,data, or --{name} '{ALL_PROFILES}' for all",
        )
    return parsed


def output_path(raw: Raw, name: str = "output") -> Path | None:
    """A path the report can be written to, checked before any work is done."""
    value = text(raw, name)
    if value is None:
        return None
    if not value.strip():
        raise UsageError("--output is empty", hint="name a file, or leave --output out for stdout")
    path = Path(value).absolute()
    hint = "name a regular file in a writable directory"
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as error:
        raise EnvironmentProblem(f"cannot use --output {path}: {error.strerror}", hint) from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise EnvironmentProblem(f"--output {path} is a directory", hint)
        if not stat.S_ISREG(info.st_mode):
            raise EnvironmentProblem(f"--output {path} is not a regular file", hint)
        if not os.access(path, os.W_OK):
            raise EnvironmentProblem(f"--output {path} is not writable", hint)
        return path
    # The report creates missing folders: the nearest existing one must be a writable folder.
    parent = path.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise EnvironmentProblem(f"--output {path}: {parent} is not a directory", hint)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise EnvironmentProblem(f"--output {path}: directory {parent} is not writable", hint)
    return path


EnvDefault = Literal["validation", "ops"]


def project(raw: Raw, env_default: EnvDefault, notice: bool = True) -> Project:
    """The project directory, compose files and env file, resolved and checked once.

    ``validation`` renders with ``.env.example`` unless told otherwise (VAL-OPT-001),
    and with no env file at all (not even ``.env``) in a project that has none;
    ``ops`` uses ``.env`` when it exists, else ``.env.example`` with a notice.
    A ``.env`` that exists but is not a readable text file is an error, never skipped.

    ``validation`` is what the static commands ask for, so their project is
    ``static``: compose sees the env file and ``compose.STATIC_ENVIRONMENT``, never
    the rest of the caller's environment (a value it needs goes in ``--env-file``).
    """
    static = env_default == "validation"
    directory = Path(text(raw, "project_dir") or ".")
    env_file = text(raw, "env_file")
    if env_file is None:
        env_file = VALIDATION_ENV_FILE
        if env_default == "ops":
            local = directory / OPS_ENV_FILE
            if local.exists() or local.is_symlink():
                env_file = OPS_ENV_FILE
            elif notice:
                from stackctl.reporting import say

                say(
                    f"notice: no {OPS_ENV_FILE} found; using {VALIDATION_ENV_FILE}"
                    f" (copy it to {OPS_ENV_FILE} to customise)"
                )
    elif not env_file.strip():
        raise UsageError("--env-file is empty", hint="name an env file, or leave the flag out")
    name = text(raw, "project_name")
    if name is not None and not name.strip():
        raise UsageError("--project-name is empty", hint="name the project, or leave the flag out")
    if (
        env_default == "validation"
        and text(raw, "env_file") is None
        and not (directory / VALIDATION_ENV_FILE).exists()
        and directory.is_dir()
    ):
        # Another team's project without .env.example is still checked, with an
        # empty environment: never its .env, which compose would read by default
        # and which may hold real credentials.
        bare = Project.at(directory, None, values(raw, "file"), name, static=static)
        return dataclasses.replace(bare, env_file=Path(os.devnull))
    return Project.at(directory, env_file, values(raw, "file"), name, static=static)


# -- Swarm ---------------------------------------------------------------------------

# What `docker stack deploy` accepts as a stack name (it prefixes every object with it).
STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STACK_HELP = "a Swarm stack (deployed with `deploy`) instead of the compose project"


def stack_name(raw: Raw, name: str = "stack") -> str | None:
    """``--stack NAME``, checked; None when the flag is not given."""
    value = text(raw, name)
    if value is None:
        return None
    if not STACK_NAME.match(value):
        raise UsageError(
            f"--stack {value!r} is not a valid stack name",
            hint="lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    return value
