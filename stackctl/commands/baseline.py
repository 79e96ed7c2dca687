"""``baseline``: accept today's findings in a file the project commits, so that ``check``
fails only on new ones.

The checks run exactly as ``check`` runs them (the project's rule set, select,
ignore and severities; an existing baseline is not applied), and every open
finding's fingerprint is written to the baseline file (``.stackctl-baseline.json``
unless the project's config names another). The file is replaced atomically and
never written through a symlink. Format: ``checks.baseline``.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.commands import Command
from stackctl.commands import check as check_command
from stackctl.commands import options as opt
from stackctl.commands.groups import CROSS_CHECK, PROJECT_VALIDATION, report_group
from stackctl.errors import EnvironmentProblem
from stackctl.reporting import Outcome, ReportTo

ORDER = 47
REPORT = report_group("table", "json")


@dataclass(frozen=True)
class BaselineOptions:
    check: check_command.CheckOptions
    report: ReportTo
    target: Path


def _target(options: check_command.CheckOptions) -> Path:
    """The baseline file to write, checked before any work: inside the project, in a
    directory that exists, and neither a symlink nor anything but a regular file."""
    assert options.rules is not None
    directory = options.project.directory
    name = options.rules.config.baseline
    path = directory / name
    hint = "remove it, or name another file with baseline = '...' in the project's config"
    if path.is_symlink():
        raise EnvironmentProblem(f"baseline {name} is a symlink; it is never written through", hint)
    if path.exists() and not path.is_file():
        raise EnvironmentProblem(f"baseline {name} exists and is not a regular file", hint)
    parent = path.parent
    if not parent.is_dir() or parent.is_symlink():
        raise EnvironmentProblem(
            f"the directory of baseline {name} does not exist (or is a symlink)",
            hint="create it, or name a file in the project's own directory",
        )
    return path


def parse(raw: opt.Raw) -> BaselineOptions:
    report = REPORT.parse(raw)
    checked = check_command.parse_check(raw, report, with_baseline=False)
    return BaselineOptions(checked, report, _target(checked))


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename: a reader sees the old or the new file."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)  # a file the project commits, like its others
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise EnvironmentProblem(
            f"cannot write baseline {path}: {error.strerror}",
            hint="check that the project directory is writable",
        ) from None


@dataclass(frozen=True)
class BaselineOutcome(Outcome):
    name: str = ""
    by_rule: Mapping[str, int] = field(default_factory=dict)
    entries: tuple[Mapping[str, Any], ...] = ()
    written: bool = False

    def as_table(self) -> str:
        if not self.written:
            return f"{self.name} not written"
        total = sum(self.by_rule.values())
        rules = ", ".join(f"{rule} x{count}" for rule, count in sorted(self.by_rule.items()))
        return (
            f"wrote {self.name}: {total} open finding{'s' if total != 1 else ''} accepted"
            + (f" ({rules})" if rules else "")
            + f"\ncommit it: `stackctl check` now fails only on findings not in {self.name}"
        )

    def as_data(self) -> Mapping[str, Any]:
        return {"baseline": self.name, "written": self.written, "findings": list(self.entries)}


def run(options: BaselineOptions) -> Outcome:
    from checks import baseline
    from stackctl.reporting.findings import finding_dict

    checked = check_command.run(options.check)
    assert isinstance(checked, check_command.CheckOutcome)
    name = options.target.relative_to(options.check.project.directory).as_posix()
    if checked.problem is not None:
        # The derivation disagreed with compose: these findings are not worth accepting.
        return BaselineOutcome("baseline", exit_code=1, problem=checked.problem, name=name)
    accepted = [f for f in checked.evaluation.findings if not f.suppressed]
    write_atomically(options.target, baseline.render(accepted))
    return BaselineOutcome(
        "baseline",
        name=name,
        by_rule=Counter(f.rule_id for f in accepted),
        entries=tuple(finding_dict(f) for f in accepted),
        written=True,
    )


COMMANDS = (
    Command(
        "baseline",
        "Accept today's findings: write them to the project's baseline file, so that\n"
        "`check` fails only on new ones.\n\n"
        "The file (.stackctl-baseline.json, or baseline = '...' in the project's config)\n"
        "holds each open finding's fingerprint; commit it. Findings it lists are reported\n"
        "as suppressed; entries nothing matches any more are reported as stale.",
        (REPORT, CROSS_CHECK, PROJECT_VALIDATION),
        parse,
        run,
    ),
)
