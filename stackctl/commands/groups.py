"""Flags several commands share, declared once: project, report, profiles, cross-check, rules.

A ``Group`` is a few ``Option``s and the one parser that turns them into a
typed value (``Project``, ``ReportTo``, a profiles tuple, ``CrossCheck``).
A command lists the groups it takes beside its own flags; its ``parse`` calls
``GROUP.parse(raw)`` once per group. Like every parse helper, a group's parser
reads flags and files only: it never runs compose or asks the engine.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar

from stackctl.commands.options import (
    Option,
    Raw,
    choice,
    flag,
    number,
    output_path,
    text,
    values,
)
from stackctl.console import say
from stackctl.errors import UsageError
from stackctl.project.compose import Project
from stackctl.project.profiles import ALL_PROFILES, DEFAULT_SAMPLE, parse_profiles
from stackctl.reporting import ReportTo

ValueT = TypeVar("ValueT")


@dataclass(frozen=True)
class Group(Generic[ValueT]):
    """Shared flags and their parser, so every command that takes them says them alike."""

    name: str
    options: tuple[Option, ...]
    parse: Callable[[Raw], ValueT]


# -- project: --project-dir, -f/--file, --env-file, --project-name ---------------------

VALIDATION_ENV_FILE = ".env.example"
OPS_ENV_FILE = ".env"
EnvDefault = Literal["validation", "ops"]

PROJECT_DIR = Option("project_dir", "text", "project directory (default: the current directory)")
ENV_HELP: dict[EnvDefault, str] = {
    "validation": f"env file to render with (default: {VALIDATION_ENV_FILE})",
    "ops": f"env file (default: {OPS_ENV_FILE}, else {VALIDATION_ENV_FILE} with a notice)",
}


def parse_project(raw: Raw, env_default: EnvDefault, *, notice: bool = True) -> Project:
    """The project, and for a static one whether ``--no-cache`` keeps its renders out of
    the user's render cache (``stackctl.project.render``)."""
    project = _parse_project(raw, env_default, notice=notice)
    if project.static and flag(raw, "no_cache"):
        project = dataclasses.replace(project, use_render_cache=False)
    widened = text(raw, "boundary") if project.static else None
    if widened is not None:
        project = dataclasses.replace(project, boundary=_boundary(widened, project.directory))
    return project


def _boundary(given: str, directory: Path) -> Path:
    """``--boundary``: an existing folder that holds the project directory."""
    if not given.strip():
        raise UsageError("--boundary is empty", hint="name a folder, or leave the flag out")
    try:
        folder = Path(given).resolve(strict=True)
    except (OSError, RuntimeError):
        raise UsageError(
            f"--boundary {given} is not a folder", hint="name the folder to allow reads from"
        ) from None
    if not folder.is_dir():
        raise UsageError(
            f"--boundary {given} is not a folder", hint="name the folder to allow reads from"
        )
    if folder != directory and folder not in directory.parents:
        raise UsageError(
            f"--boundary {folder} does not hold the project directory {directory}",
            hint="name the project directory or a folder above it (e.g. the repository root)",
        )
    return folder


def _parse_project(raw: Raw, env_default: EnvDefault, *, notice: bool) -> Project:
    """The project directory, compose files and env file, resolved and checked once.

    ``validation`` renders with ``.env.example`` unless told otherwise (VAL-OPT-001),
    and with no env file at all in a project that has none. A ``.env`` there is what
    compose reads by default: it is read only when git tracks it (the project's
    committed defaults, decided by ``Project.settled`` when the command runs, since
    parsing starts no process); an untracked ``.env`` may hold real credentials and
    is never read. ``ops`` uses ``.env`` when it exists, else ``.env.example`` with a
    notice. A ``.env`` that exists but is not a readable text file is an error.

    ``validation`` is what the static commands ask for, so their project is
    ``static``: compose sees the env file and ``compose.STATIC_ENVIRONMENT``, never
    the rest of the caller's environment (a value it needs goes in ``--env-file``).
    """
    static = env_default == "validation"
    directory = Path(text(raw, "project_dir") or ".")
    given = text(raw, "env_file")
    if given is not None and not given.strip():
        raise UsageError("--env-file is empty", hint="name an env file, or leave the flag out")
    name = text(raw, "project_name")
    if name is not None and not name.strip():
        raise UsageError("--project-name is empty", hint="name the project, or leave the flag out")
    files = values(raw, "file")
    if given is not None:
        origin = f"{given} (given with --env-file)"
        return Project.at(directory, given, files, name, static=static, env_origin=origin)
    local = directory / OPS_ENV_FILE
    has_local = local.exists() or local.is_symlink()
    if env_default == "ops":
        if has_local:
            return Project.at(directory, OPS_ENV_FILE, files, name, env_origin=OPS_ENV_FILE)
        if notice:
            say(
                f"notice: no {OPS_ENV_FILE} found; using {VALIDATION_ENV_FILE}"
                f" (copy it to {OPS_ENV_FILE} to customise)"
            )
        return Project.at(
            directory, VALIDATION_ENV_FILE, files, name, env_origin=VALIDATION_ENV_FILE
        )
    candidate = Path(OPS_ENV_FILE) if has_local else None
    if (directory / VALIDATION_ENV_FILE).exists() or not directory.is_dir():
        return Project.at(
            directory,
            VALIDATION_ENV_FILE,
            files,
            name,
            static=static,
            env_origin=f"{VALIDATION_ENV_FILE} (the project's example values)",
            env_candidate=candidate,
        )
    # Another team's project without .env.example is still checked, with an empty
    # environment unless it commits a .env: never a .env git does not track.
    bare = Project.at(
        directory,
        None,
        files,
        name,
        static=static,
        env_origin=f"none (no {VALIDATION_ENV_FILE})",
        env_candidate=candidate,
    )
    return dataclasses.replace(bare, env_file=Path(os.devnull))


BOUNDARY = Option(
    "boundary",
    "text",
    "folder the files compose reads may come from (default: the project directory;"
    " e.g. the repository root of a monorepo)",
)
# Only static commands cache renders (operating ones see the caller's environment).
NO_CACHE = Option(
    "no_cache",
    "flag",
    "render with compose even when the render cache holds this render (and store nothing)",
)


def project_group(env_default: EnvDefault, *, notice: bool = True) -> Group[Project]:
    static_options = (BOUNDARY, NO_CACHE) if env_default == "validation" else ()
    return Group(
        "project",
        (
            PROJECT_DIR,
            Option(
                "file",
                "list",
                "compose file (repeatable; default: the ones compose picks,"
                " e.g. compose.yaml and compose.override.yaml)",
                short="f",
            ),
            Option("env_file", "text", ENV_HELP[env_default]),
            Option(
                "project_name",
                "text",
                "compose project name (default: COMPOSE_PROJECT_NAME, else compose's own choice)",
            ),
            *static_options,
        ),
        lambda raw: parse_project(raw, env_default, notice=notice),
    )


PROJECT_VALIDATION = project_group("validation")
PROJECT_OPS = project_group("ops")


# -- report: --format, --output ----------------------------------------------------------


def parse_report(raw: Raw, formats: tuple[str, ...]) -> ReportTo:
    """The chosen format (the first is the default) and a report path checked up front."""
    return ReportTo(choice(raw, "format", formats, formats[0]), output_path(raw))


def _listed(formats: tuple[str, ...]) -> str:
    first, rest = f"{formats[0]} (default)", formats[1:]
    if not rest:
        return first
    return ", ".join([first, *rest[:-1]]) + f" or {rest[-1]}"


def report_group(*formats: str) -> Group[ReportTo]:
    return Group(
        "report",
        (
            Option("format", "text", _listed(formats), default=formats[0]),
            Option("output", "text", "write the report to this file instead of stdout"),
        ),
        lambda raw: parse_report(raw, formats),
    )


# -- profiles: --profiles ----------------------------------------------------------------

PROFILES_EXAMPLE = "profiles, e.g. core,data (comma-separated, repeatable; '*' for all)"


def parse_selection(raw: Raw, name: str = "profiles") -> tuple[str, ...]:
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


def profiles_group(help_text: str) -> Group[tuple[str, ...]]:
    return Group("profiles", (Option("profiles", "list", help_text),), parse_selection)


# -- cross-check: --seed, --sample ---------------------------------------------------------


@dataclass(frozen=True)
class CrossCheck:
    """How many selections compose renders to cross-check the derivation, and their seed."""

    seed: int | None
    sample: int


DEFAULT_CROSS_CHECK = CrossCheck(None, DEFAULT_SAMPLE)


def parse_cross_check(raw: Raw) -> CrossCheck:
    seed = None if text(raw, "seed") is None else number(raw, "seed", 0, minimum=0)
    sample = number(raw, "sample", DEFAULT_SAMPLE, minimum=0, maximum=1000)
    return CrossCheck(seed, sample)


CROSS_CHECK = Group(
    "cross-check",
    (
        Option("seed", "number", "seed of the cross-check sample (default: random, printed)"),
        Option(
            "sample",
            "number",
            f"selections compose renders to cross-check the derivation (default {DEFAULT_SAMPLE})",
        ),
    ),
    parse_cross_check,
)


# -- rules: --select, --ignore -------------------------------------------------------------


@dataclass(frozen=True)
class RuleChoice:
    """Rule selectors from the command line, as written (checked against the catalogue
    by the command, with the project's configuration)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def _selectors(raw: Raw, name: str) -> tuple[str, ...]:
    given = values(raw, name)
    words = tuple(w.strip() for value in given for w in value.split(",") if w.strip())
    if given and not words:
        raise UsageError(
            f"--{name} {given[0]!r} names no rule",
            hint=f"name rules or families, e.g. --{name} PRIV,SECRET-001",
        )
    return words


def parse_rule_choice(raw: Raw) -> RuleChoice:
    return RuleChoice(_selectors(raw, "select"), _selectors(raw, "ignore"))


RULES = Group(
    "rules",
    (
        Option(
            "select",
            "list",
            "judge only these rules: IDs, families or prefixes, e.g. PRIV,SECRET-001, or ALL"
            " (comma-separated, repeatable; replaces select in the project's config)",
        ),
        Option(
            "ignore",
            "list",
            "never judge these rules (comma-separated, repeatable; adds to ignore in the config)",
        ),
    ),
    parse_rule_choice,
)
