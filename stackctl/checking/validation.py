"""VAL-OPT-001/002: a real compose render of every combination the spec names.

Renders are independent, so they run in parallel, and they go through the
per-process render cache, so ``check`` in the same process reuses them. A
combination passes only when compose exits 0 *and* prints no warning.

``exhaustive`` answers for every non-empty selection of the profiles (127 for
seven) from one full render, runs the checks on each distinct set of enabled
services and cross-checks a seeded sample against real renders.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from checks.finding import Severity
from stackctl import reporting as report
from stackctl.errors import RenderError
from stackctl.project.compose import Compose
from stackctl.project.profiles import DEFAULT_SAMPLE, Combination, matrix_for
from stackctl.project.render import render_cache, render_outcome, require_known_profiles

# The rules and their catalogue are imported only by ``exhaustive``: the plain matrix
# needs none of them, and importing them would delay its renders.
if TYPE_CHECKING:
    from stackctl.checking.check_run import PolicyRun


@dataclass(frozen=True)
class ValidationResult:
    check_id: str
    profiles: str
    ok: bool
    seconds: float
    error: str = ""


def validate_one(compose: Compose, combination: Combination) -> ValidationResult:
    started = time.perf_counter()
    outcome = render_outcome(compose, combination.profiles)
    seconds = time.perf_counter() - started
    # strict: the first warning fails the combination, and the table shows its text
    error = outcome.error or (outcome.warnings[0] if outcome.warnings else "")
    return ValidationResult(
        combination.check_id, combination.label, ok=not error, seconds=seconds, error=error
    )


def validate(
    compose: Compose, override: Sequence[str] = (), *, workers: int = 4
) -> list[ValidationResult]:
    """Validate the spec matrix (or one ``--profiles`` combination); results keep matrix order."""
    matrix = matrix_for(override)
    with render_cache(), ThreadPoolExecutor(max_workers=max(1, min(workers, len(matrix)))) as pool:
        rendering = pool.map(lambda combo: validate_one(compose, combo), matrix)
        # A tree compose cannot load fails the renders too, with compose's own
        # error in the table, so only an unknown profile is a usage error here.
        with contextlib.suppress(RenderError):
            require_known_profiles(compose, override)
        return list(rendering)


def render_results(results: Sequence[ValidationResult], fmt: str) -> str:
    if fmt == "json":
        passed = all(r.ok for r in results)
        return report.to_json({"ok": passed, "results": [asdict(r) for r in results]})
    if fmt == "junit":
        cases = [report.Case(r.check_id, r.profiles, r.ok, r.seconds, r.error) for r in results]
        return report.junit(cases, "validate")
    rows = [
        (r.check_id, r.profiles, "pass" if r.ok else "FAIL", f"{r.seconds:.2f}", r.error)
        for r in results
    ]
    failed = sum(1 for r in results if not r.ok)
    summary = f"\n{len(results) - failed}/{len(results)} combinations valid"
    return report.table(rows, ["ID", "profiles", "result", "seconds", "error"]) + summary


# -- every selection ---------------------------------------------------------------------


@dataclass(frozen=True)
class SelectionRow:
    profiles: str
    services: int
    valid: bool
    reason: str = ""


@dataclass
class ExhaustiveResult:
    """All selections (valid or why not), the checks on each distinct set, the cross-check."""

    rows: list[SelectionRow]
    run: PolicyRun
    threshold: Severity = Severity.HIGH

    @property
    def invalid(self) -> list[SelectionRow]:
        return [r for r in self.rows if not r.valid]


def exhaustive(
    compose: Compose,
    *,
    seed: int | None = None,
    sample: int = DEFAULT_SAMPLE,
    today: dt.date | None = None,
) -> ExhaustiveResult:
    """Answer for every non-empty selection from one full render; check each distinct set.

    Raises ``RenderError`` when the full model cannot be rendered, because then
    no selection can be derived.
    """
    from stackctl.checking.check_run import check_stack

    run = check_stack(compose, seed=seed, sample=sample, today=today, every_selection=True)
    rows = [SelectionRow(s.label, len(s.enabled), s.valid, s.reason) for s in run.selections]
    return ExhaustiveResult(rows, run)


def exhaustive_table(result: ExhaustiveResult) -> str:
    from stackctl.reporting.findings import findings_table

    evaluation = result.run.evaluation
    rows = [
        (r.profiles, r.services, "valid" if r.valid else "invalid", r.reason) for r in result.rows
    ]
    invalid = len(result.invalid)
    failing = evaluation.failing(result.threshold)
    text = report.table(rows, ["profiles", "services", "result", "reason"])
    if failing:
        text += "\n\n" + findings_table(failing)
    return (
        text + f"\n\n{len(result.rows)} selections: {len(result.rows) - invalid} valid, "
        f"{invalid} need a profile they do not select (invoke up adds it); "
        f"checks ran on {result.run.distinct_sets} distinct service sets: "
        f"{len(evaluation.open_findings)} open findings "
        f"({len(failing)} at or above {result.threshold.label})"
    )


def exhaustive_data(result: ExhaustiveResult) -> dict[str, Any]:
    from stackctl.reporting.findings import finding_dict

    cross = result.run.cross_check
    return {
        "selections": [asdict(r) for r in result.rows],
        "distinct_sets_checked": result.run.distinct_sets,
        "cross_check": None
        if cross is None
        else {"seed": cross.seed, "comparisons": [asdict(c) for c in cross.comparisons]},
        "findings": [finding_dict(f) for f in result.run.evaluation.findings],
    }


def exhaustive_cases(result: ExhaustiveResult) -> list[report.Case]:
    return [report.Case("selection", r.profiles, r.valid, 0.0, r.reason) for r in result.rows]
