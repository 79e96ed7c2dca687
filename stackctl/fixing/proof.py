"""A fix is kept only when it is proven: written, re-rendered by compose, re-checked.

After the files are written the whole check runs again (``check_run.check_stack``,
a fresh render). The fix stands when every finding it repairs is gone, every
selection that rendered still renders, and no finding appears that was not there
before. Otherwise every file is put back byte for byte; a set of fixes that fails
together is split in halves and each half tried alone, so one bad fix does not
take the good ones with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl.checking.check_run import PolicyRun, check_stack
from stackctl.errors import EnvironmentProblem, StackError
from stackctl.fixing.plan import FixPlan, Proposal
from stackctl.project.compose import Compose
from stackctl.project.render import fresh_render_cache

if TYPE_CHECKING:
    from checks.rule_sets import Policy

Recheck = Callable[[Compose], PolicyRun]


def recheck(compose: Compose, policy: Policy | None = None) -> PolicyRun:
    """The check a fix must pass: every selection of the matrix, no sampled cross-check,
    rendered anew (the command's cache holds the files as they were), judged by the
    project's own rules (``policy``; None: every rule)."""
    with fresh_render_cache():
        return check_stack(compose, sample=0, policy=policy)


@dataclass
class Proven:
    kept: list[Proposal] = field(default_factory=list)
    refused: list[tuple[Proposal, str]] = field(default_factory=list)


def _write(path: Path, data: bytes) -> None:
    """Rewrite a file in place: same inode, owner and mode; never through a symlink."""
    descriptor = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class _Files:
    """The project's files as the proof writes and restores them."""

    def __init__(self, directory: Path, originals: Mapping[str, str]) -> None:
        self.directory = directory
        self.originals = {file: text.encode("utf-8") for file, text in originals.items()}
        self.current = dict(self.originals)

    def show(self, texts: Mapping[str, str]) -> None:
        """Make every file hold ``texts`` (originals for the files not named)."""
        for file, original in self.originals.items():
            wanted = texts[file].encode("utf-8") if file in texts else original
            if self.current[file] != wanted:
                path = self.directory / file
                if path.read_bytes() != self.current[file]:
                    raise EnvironmentProblem(
                        f"{file} changed while fix was proving its edits",
                        hint="run fix again when nothing else edits the compose files",
                    )
                _write(path, wanted)
                self.current[file] = wanted

    def restored(self) -> None:
        self.show({})
        for file, original in self.originals.items():
            if (self.directory / file).read_bytes() != original:
                raise EnvironmentProblem(
                    f"{file} could not be restored byte for byte", hint="restore it from git"
                )


def _judge(before: PolicyRun, after: PolicyRun, repaired: frozenset[str]) -> str:
    """Why ``after`` is not a proof ("" when it is)."""
    open_after = {f.fingerprint: f for f in after.evaluation.open_findings}
    still = [open_after[fp] for fp in sorted(repaired) if fp in open_after]
    if still:
        f = still[0]
        return f"{f.rule_id} is still reported for {f.service or f.source}: {f.message}"
    broken = {p for p, _ in after.failed} - {p for p, _ in before.failed}
    if broken:
        profiles, error = next((p, e) for p, e in after.failed if p in broken)
        return f"profiles {','.join(profiles)} no longer render: {error}"
    known = {f.fingerprint for f in before.evaluation.findings}
    new = [f for f in after.evaluation.findings if f.fingerprint not in known]
    if new:
        f = new[0]
        where = f.service or f.source
        return f"it adds a finding: {f.rule_id} {where}: {f.message}"
    return ""


def prove(
    compose: Compose,
    plan: FixPlan,
    before: PolicyRun,
    proposals: Sequence[Proposal] | None = None,
    *,
    check: Recheck = recheck,
) -> Proven:
    """Write the proposals, keep those the re-check proves, restore the rest."""
    chosen = list(plan.proposals if proposals is None else proposals)
    files = _Files(compose.project.directory, {p.file: plan.texts[p.file] for p in chosen})
    proven = Proven()

    def attempt(group: list[Proposal]) -> None:
        trial = [*proven.kept, *group]
        files.show(plan.new_texts(trial))
        try:
            repaired = frozenset(fp for p in trial for fp in p.fingerprints)
            why = _judge(before, check(compose), repaired)
        except StackError as error:
            why = f"the project no longer checks: {error.message}"
        if not why:
            proven.kept.extend(group)
            return
        files.show(plan.new_texts(proven.kept))
        if len(group) == 1:
            proven.refused.append((group[0], why))
            return
        half = len(group) // 2
        attempt(group[:half])
        attempt(group[half:])

    try:
        if chosen:
            attempt(chosen)
    except BaseException:
        files.restored()  # interrupted or failed mid-proof: leave nothing half-done
        raise
    if not proven.kept:
        files.restored()
    return proven
