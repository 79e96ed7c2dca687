"""Typed options at the edge: each command's flags declared once, parsed once.

An ``Option`` declares one flag (name, kind, help, default). The same
declarations build the ``python -m stackctl`` subcommands and the invoke
tasks, so every entry point accepts the same flags with the same help. Raw
values (strings, lists of strings, booleans) are turned into typed values by
the parse helpers below; every user mistake ends there as a ``UsageError`` or
``EnvironmentProblem`` naming the flag, value or path. Flags several commands
share (project, report, profiles, cross-check) are declared once in
``stackctl.commands.groups``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from checks.finding import Severity
from stackctl.errors import EnvironmentProblem, UsageError

Kind = Literal["text", "number", "flag", "list"]
RawValue = str | bool | list[str] | None
Raw = Mapping[str, RawValue]


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


def given(raw: Raw, name: str) -> str | None:
    """A flag's text, or None when it was not given; given but blank is a usage error."""
    value = text(raw, name)
    if value is not None and not value.strip():
        flag_name = "--" + name.replace("_", "-")
        raise UsageError(f"{flag_name} is empty", hint=f"give {flag_name} a value, or leave it out")
    return value


def choice(raw: Raw, name: str, allowed: Sequence[str], default: str) -> str:
    value = given(raw, name) or default
    if value not in allowed:
        raise UsageError(
            f"unknown --{name.replace('_', '-')} {value!r}",
            hint=f"choose one of: {', '.join(allowed)}",
        )
    return value


def severity(raw: Raw, name: str, default: str) -> Severity:
    value = given(raw, name) or default
    try:
        return Severity.parse(value)
    except ValueError as error:
        raise UsageError(f"--{name.replace('_', '-')}: {error}") from None


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
