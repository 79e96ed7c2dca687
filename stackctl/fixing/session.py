"""The check ``fix`` and ``check`` share: one run of the checks, then the fix plan on it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from stackctl.checking.check_run import PolicyRun, check_stack, project_facts
from stackctl.fixing.plan import FixPlan, env_values, plan_fixes
from stackctl.project.compose import Compose
from stackctl.project.profiles import ALL_PROFILES, DEFAULT_SAMPLE
from stackctl.project.render import render_cache, render_outcome

if TYPE_CHECKING:
    from checks.rule_sets import Policy


def checked_plan(
    compose: Compose,
    profiles: Sequence[str] = (),
    *,
    seed: int | None = None,
    sample: int = DEFAULT_SAMPLE,
    rules: Collection[str] | None = None,
    policy: Policy | None = None,
) -> tuple[PolicyRun, FixPlan]:
    """Check the project, then plan a fix for each open finding of a fixable rule.

    The plan reads the full render (every profile) the check made, from the same cache.
    """
    with render_cache():
        checked = check_stack(compose, profiles, seed=seed, sample=sample, policy=policy)
        full = render_outcome(compose, (ALL_PROFILES,))
    if full.model is None:
        return checked, FixPlan()
    project = compose.project
    plan = plan_fixes(
        project.directory,
        checked.facts or project_facts(compose),  # read once: the check's own facts
        full.model.data,
        checked.evaluation.findings,
        env=env_values(project.env_file),
        rules=rules,
    )
    return checked, plan
