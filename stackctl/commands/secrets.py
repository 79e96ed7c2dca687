"""``secrets.scaffold``: create missing secret files, check them, tighten them, rotate one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_OPS, report_group
from stackctl.errors import UsageError
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render
from stackctl.project.secret_specs import specs_from_model
from stackctl.reporting import Outcome, ReportTo, say, table

ORDER = 110
REPORT = report_group("table", "json")
HEADERS = ("secret", "path", "kind", "status")


@dataclass(frozen=True)
class SecretsOptions:
    project: Project
    check: bool
    rotate: str | None
    yes: bool
    fix: bool
    report: ReportTo


def parse(raw: opt.Raw) -> SecretsOptions:
    rotate = opt.text(raw, "rotate")
    if rotate is not None and not rotate.strip():
        raise UsageError("--rotate is empty", hint="name the secret to rotate")
    report = REPORT.parse(raw)
    options = SecretsOptions(
        PROJECT_OPS.parse(raw),
        opt.flag(raw, "check"),
        rotate,
        opt.flag(raw, "yes"),
        opt.flag(raw, "fix"),
        report,
    )
    if rotate and not options.yes:
        raise UsageError(
            f"rotating {rotate} replaces its value; services using it need a restart",
            hint=f"repeat with --rotate {rotate} --yes",
        )
    if options.check and (options.fix or rotate):
        raise UsageError("--check changes nothing; it cannot be combined with --fix or --rotate")
    return options


def run(options: SecretsOptions) -> Outcome:
    from stackctl.operating import secrets

    compose = Compose(options.project)
    specs = specs_from_model(render(compose, ["*"]).data)
    base = compose.project.directory
    if options.rotate:
        statuses = [secrets.rotate(specs, options.rotate, root=base)]
    else:
        statuses = secrets.scaffold(specs, check=options.check, fix=options.fix, root=base)
    rows: Sequence[tuple[str, str, str, str]] = [
        (
            s.spec.name,
            str(s.spec.path.relative_to(base) if base in s.spec.path.parents else s.spec.path),
            s.spec.kind or "-",
            s.status,
        )
        for s in statuses
    ]
    bad = [s for s in statuses if not s.ok]
    if bad and not options.check:
        say(
            "hint: --fix tightens modes and owners; add a kind to x-secret-generators for"
            " secrets without one"
        )
    return Outcome(
        "secrets.scaffold",
        exit_code=1 if bad else 0,
        text=table(rows, HEADERS),
        # Names, paths and statuses only: a value is never part of any report.
        data={"secrets": [dict(zip(HEADERS, row, strict=True)) for row in rows]},
    )


COMMANDS = (
    Command(
        "secrets.scaffold",
        "Create every missing secret file (0600 in 0700); never overwrite, never print values.",
        (
            opt.Option(
                "check", "flag", "change nothing; exit 1 when a secret is missing, empty or loose"
            ),
            opt.Option("rotate", "text", "replace the value of this one secret (needs --yes)"),
            opt.Option("yes", "flag", "confirm --rotate"),
            opt.Option(
                "fix", "flag", "tighten modes/owners of existing files (contents untouched)"
            ),
            REPORT,
            PROJECT_OPS,
        ),
        parse,
        run,
    ),
)
