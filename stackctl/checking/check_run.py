"""`check`: one full render, every selection derived from it, checks/ on each distinct set.

Compose renders the stack once with ``--profile '*'``; the model of each
selection of the matrix is derived from it (``stackctl.project.selections``) and the
rules run once per distinct set of enabled services. A seeded random sample of
selections is also rendered for real and compared with its derived model.

Nothing aborts on a warning: each compose warning becomes a finding, and a
selection compose refuses becomes a finding with compose's own line. A full
render that fails ends the run at once: every selection loads the same files, so
rendering them would repeat the failure, each at a render's cost.

The compose files are parsed (within their bounds) before any render starts, so a
file over a bound ends the run in one line without compose ever running.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from checks import exceptions
from checks.catalogue import rule_catalogue
from checks.compose_files import InputRefused, Reader
from checks.evaluator import Evaluation, evaluate
from checks.finding import Finding
from checks.rule_sets import Policy
from checks.stack import ProjectFacts, Stack, load_compose_files
from checks.warnings import findings_from_warnings, render_failure_finding
from stackctl.errors import RenderError, StackError
from stackctl.project.boundary import BOUND_HINT
from stackctl.project.compose import Compose
from stackctl.project.profiles import (
    ALL_PROFILES,
    BASE,
    DEFAULT_SAMPLE,
    SEVEN_PROFILES,
    VALIDATION_MATRIX,
    with_dependencies,
)
from stackctl.project.render import cached_outcome, render_cache, render_outcome
from stackctl.project.selections import (
    CrossCheck,
    Derivation,
    Selection,
    cross_check,
    new_seed,
    non_empty_subsets,
    ordered_profiles,
    pick_sample,
)

# Real renders per run that re-check the derivation; one runs beside the full
# render on a second core, so it costs little wall time.


def policy_matrix(
    override: Sequence[str] = (),
    profiles: Sequence[str] = SEVEN_PROFILES,  # this platform's, when none are known
    services: Mapping[str, Any] | None = None,
) -> list[tuple[str, ...]]:
    """The selections ``check`` judges: one chosen selection, else the project's matrix.

    A project with this platform's base profiles (core, data, obs) gets the
    VAL-OPT-002 combinations it has every profile of, plus every profile at once.
    Any other project gets what ``docker compose up`` starts (no profile), each of
    its own profiles with the profiles it needs (from ``services``' ``depends_on``,
    as ``up`` adds them), and every profile at once.
    """
    if override:
        return [tuple(override)]
    if set(BASE) <= set(profiles):
        combos = [c.profiles for c in VALIDATION_MATRIX if c.profiles]
        return [*(c for c in combos if set(c) <= set(profiles)), (ALL_PROFILES,)]
    if not profiles:
        return [(ALL_PROFILES,)]
    each = [with_dependencies((p,), services)[0] if services else (p,) for p in profiles]
    return list(dict.fromkeys([(), *each, (ALL_PROFILES,)]))


def _label(profiles: tuple[str, ...]) -> str:
    return ",".join(profiles) if profiles else "(none)"


# -- the run ------------------------------------------------------------------------------


@dataclass
class PolicyRun:
    """Everything ``check`` learned: findings, cross-check, and what could not render."""

    evaluation: Evaluation
    cross_check: CrossCheck | None = None
    failed: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    distinct_sets: int = 0
    selections: list[Selection] = field(default_factory=list)  # as derived, in matrix order
    facts: ProjectFacts | None = None  # what the rules saw, for whoever plans on the same run


def _derived_stacks(
    compose: Compose,
    derivation: Derivation,
    facts: ProjectFacts,
    selections: Sequence[Selection],
    *,
    report_invalid: bool,
) -> tuple[list[Stack], list[tuple[tuple[str, ...], str]]]:
    """A stack per distinct enabled set; invalid selections get compose's own line."""
    stacks: list[Stack] = []
    seen: set[frozenset[str]] = set()
    failed: list[tuple[tuple[str, ...], str]] = []
    invalid = [s for s in selections if not s.valid] if report_invalid else []
    # compose's own wording for each invalid selection (these renders also cross-check)
    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = list(pool.map(lambda s: render_outcome(compose, s.profiles), invalid))
    for selection, outcome in zip(invalid, errors, strict=True):
        failed.append((selection.profiles, outcome.error or selection.reason))
    for selection in selections:
        if selection.valid and selection.enabled not in seen:
            seen.add(selection.enabled)
            model = derivation.model(selection)
            stacks.append(facts.stack(model.data, selection.profiles))
    return stacks, failed


class InputOverBound(RenderError):
    """A file the project loads is over a size, depth or alias bound of the facts reader."""


def _refused(error: InputRefused) -> InputOverBound:
    return InputOverBound(
        str(error),
        hint=BOUND_HINT,
    )


def _compose_files(compose: Compose) -> tuple[Reader, list[str]]:
    """The compose files the project loads, parsed once each and within their bounds."""
    directory = compose.project.directory
    files = [
        path.relative_to(directory).as_posix() if directory in path.parents else str(path)
        for path in compose.project.compose_files
    ]
    try:
        return load_compose_files(directory, files)
    except InputRefused as error:
        raise _refused(error) from None


def _facts(compose: Compose, loaded: tuple[Reader, list[str]]) -> ProjectFacts:
    try:
        return ProjectFacts.from_reader(compose.project.directory, *loaded)
    except InputRefused as error:
        raise _refused(error) from None


def project_facts(compose: Compose) -> ProjectFacts:
    """The raw facts rules need, read once, from the project's compose files (``-f``)."""
    return _facts(compose, _compose_files(compose))


def declared_profiles(facts: ProjectFacts) -> tuple[str, ...]:
    """Profile names written literally in the compose files (a hint, before any render)."""
    names: set[str] = set()
    for data in facts.compose_files.values():
        services = data.get("services") if isinstance(data, Mapping) else None
        for spec in (services or {}).values():
            for name in (spec.get("profiles") or []) if isinstance(spec, Mapping) else []:
                if isinstance(name, str) and "$" not in name:
                    names.add(name)
    return ordered_profiles(names)


def check_stack(
    compose: Compose,
    override: Sequence[str] = (),
    *,
    today: dt.date | None = None,
    seed: int | None = None,
    sample: int = DEFAULT_SAMPLE,
    every_selection: bool = False,
    policy: Policy | None = None,
) -> PolicyRun:
    """Render once, derive each selection, evaluate the rules on each distinct set.

    ``policy`` chooses the rules and their severities (default: every rule as
    declared). With ``every_selection`` the matrix is every non-empty selection of
    the profiles (``validate --exhaustive``); invalid ones are then listed in
    ``PolicyRun.selections``, not reported as findings. Raises ``RenderError``
    when the full model does not render (no selection is rendered after that).
    """
    with render_cache():
        return _check_stack(compose, override, today, seed, sample, every_selection, policy)


def _check_stack(
    compose: Compose,
    override: Sequence[str],
    today: dt.date | None,
    seed: int | None,
    sample: int,
    every_selection: bool,
    policy: Policy | None,
) -> PolicyRun:
    seed = new_seed() if seed is None else seed
    loaded = _compose_files(compose)  # a file over a bound ends the run before any render
    with ThreadPoolExecutor(max_workers=1 + max(0, sample)) as pool:
        pending = [pool.submit(render_outcome, compose, (ALL_PROFILES,))]
        facts = _facts(compose, loaded)
        # The sample is drawn from the profiles the files name, so its real renders
        # run while the full render runs (on 2 cores, three renders cost about 1.5).
        sampled = pick_sample(non_empty_subsets(declared_profiles(facts)), sample, seed)
        pending += [pool.submit(render_outcome, compose, p) for p in sampled]
        full = pending[0].result()
        for future in pending:
            future.result()
    if full.model is None:
        # Every selection loads the same files, so each would repeat this failure at a
        # render's cost (minutes for a file compose chokes on): no selection renders after it.
        raise RenderError(
            f"the full model (--profile '*') does not render, so no selection is checked;"
            f" compose says: {full.error}",
            hint="fix the line compose names; `invoke validate` shows each combination's error",
        )
    derivation = Derivation(full.model)
    combos = policy_matrix(override, derivation.profiles, derivation.services)
    chosen = (
        derivation.all_selections() if every_selection else [derivation.select(c) for c in combos]
    )
    combos = [s.profiles for s in chosen]
    # Every-selection runs list invalid ones as rows, not as findings.
    stacks, failed = _derived_stacks(
        compose, derivation, facts, chosen, report_invalid=not every_selection
    )
    warnings = full.warnings
    compared = [derivation.select(p) for p in sampled]
    compared += [
        s
        for s in [*chosen, derivation.select(())]
        if s not in compared
        and s.profiles != (ALL_PROFILES,)
        and cached_outcome(compose, s.profiles) is not None
    ]
    cross: CrossCheck | None = cross_check(compose, derivation, compared, seed=seed)
    registered, problems = exceptions.load(compose.project.directory)
    # Compose's own findings go through the registry like any other: they can be excepted.
    rendering = findings_from_warnings(warnings, facts, (ALL_PROFILES,))
    if compose.project.env_skipped:
        # A variable that renders blank may be one the unread .env sets: say so.
        rendering = [
            dataclasses.replace(f, message=f"{f.message}; {compose.project.env_skipped}")
            if f.rule_id == "COMPOSE-003"
            else f
            for f in rendering
        ]
    rendering += [
        render_failure_finding(profiles, error, source=facts.root_name)
        for profiles, error in failed
    ]
    if policy is None:
        evaluation = evaluate(stacks, registered, problems, today=today, compose_findings=rendering)
    else:
        evaluation = _judged(policy, stacks, registered, problems, today, rendering)
    evaluation.combinations = [_label(tuple(c)) for c in combos]
    return PolicyRun(
        evaluation, cross, failed, distinct_sets=len(stacks), selections=chosen, facts=facts
    )


def _judged(
    policy: Policy,
    stacks: Sequence[Stack],
    registered: Sequence[exceptions.Waiver],
    problems: Sequence[Finding],
    today: dt.date | None,
    rendering: Sequence[Finding],
) -> Evaluation:
    """Evaluate only the rules ``policy`` selects and report them at its severities.

    An exception for a rule the policy leaves out is set aside, not called stale;
    one naming a rule that does not exist still reaches the registry's checks.
    """
    catalogue = rule_catalogue()
    judged = {catalogue[r].requirement for r in policy.rules}
    waivers = [
        w
        for w in registered
        if (w.rule and (w.rule not in catalogue or policy.selects(w.rule)))
        or (not w.rule and w.requirement in judged)
    ]
    evaluation = evaluate(
        stacks,
        waivers,
        problems,
        today=today,
        rules=policy.model_rules(catalogue),
        compose_findings=rendering,
    )
    evaluation.findings = policy.judge(evaluation.findings, catalogue)
    return evaluation


class DerivationMismatch(StackError):
    """A derived model differs from compose's real render: the derivation is wrong here."""

    exit_code = 1


def cross_check_problem(cross: CrossCheck | None, say: Callable[[str], None]) -> StackError | None:
    """Print the cross-check line (with its seed); any disagreement is a loud failure."""
    if cross is None:
        return None
    say(cross.summary())
    if cross.agrees:
        return None
    details = "; ".join(f"{c.selection}: {c.detail}" for c in cross.disagreements)
    return DerivationMismatch(
        f"derived models disagree with compose: {details}",
        hint=f"reproduce with --seed {cross.seed}; render these selections with --profiles "
        "to see compose's model, and report it: the derivation must learn this case",
    )
