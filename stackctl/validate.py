"""VAL-OPT-001/002: render every combination of the matrix with ``config -q``.

Renders are independent, so they run in parallel. A combination passes only
when compose exits 0 *and* prints no warning on stderr.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from stackctl import report
from stackctl.compose import Compose, first_error_line
from stackctl.errors import RenderError
from stackctl.model import require_known_profiles, warning_lines
from stackctl.profiles import Combination, matrix_for


@dataclass(frozen=True)
class ValidationResult:
    check_id: str
    profiles: str
    ok: bool
    seconds: float
    error: str = ""


def validate_one(compose: Compose, combination: Combination) -> ValidationResult:
    started = time.perf_counter()
    done = compose.run(["config", "-q"], combination.profiles)
    seconds = time.perf_counter() - started
    warnings = warning_lines(done.stderr)
    if done.returncode != 0:
        error = first_error_line(done.stderr) or f"compose exited {done.returncode}"
    elif warnings:
        error = first_error_line(warnings[0])
    else:
        error = ""
    # Paths relative to the project read better than absolute ones in a table.
    error = error.replace(f"{compose.project.directory}/", "")
    return ValidationResult(
        combination.check_id, combination.label, ok=not error, seconds=seconds, error=error
    )


def validate(
    compose: Compose, override: Sequence[str] = (), *, workers: int = 4
) -> list[ValidationResult]:
    """Validate the spec matrix (or one ``--profiles`` combination); results keep matrix order."""
    # A tree compose cannot load fails the render below too, with compose's own
    # error in the table, so only an unknown profile is a usage error here.
    with contextlib.suppress(RenderError):
        require_known_profiles(compose, override)
    matrix = matrix_for(override)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(matrix)))) as pool:
        return list(pool.map(lambda combo: validate_one(compose, combo), matrix))


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
