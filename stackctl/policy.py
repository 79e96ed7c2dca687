"""`check`: render every combination of the matrix, run checks/, apply the registry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from checks import waivers
from checks.engine import Evaluation, evaluate
from checks.stack import ProjectFacts
from stackctl.compose import Compose
from stackctl.model import render
from stackctl.profiles import ALL_PROFILES, VALIDATION_MATRIX


def policy_matrix(override: Sequence[str] = ()) -> list[tuple[str, ...]]:
    """The VAL-OPT-002 combinations plus every profile at once, or one chosen selection."""
    if override:
        return [tuple(override)]
    combos = [c.profiles for c in VALIDATION_MATRIX if c.profiles]
    return [*combos, (ALL_PROFILES,)]


def check_stack(
    compose: Compose, override: Sequence[str] = (), *, today: dt.date | None = None
) -> Evaluation:
    """Render in parallel (compose does all merging), then evaluate every rule."""
    combos = policy_matrix(override)
    with ThreadPoolExecutor(max_workers=min(4, len(combos))) as pool:
        models = list(pool.map(lambda profiles: render(compose, profiles), combos))
    facts = ProjectFacts.read(compose.project.directory)
    registered, problems = waivers.load(compose.project.directory)
    stacks = [facts.stack(model.data, model.profiles) for model in models]
    return evaluate(stacks, registered, problems, today=today)
