"""The profile matrix and profile selection: the one place that knows about profiles.

Selection rule: profiles come only from ``--profiles`` (comma-separated and
repeatable). The tools pass them as ``--profile`` flags and blank
``COMPOSE_PROFILES``, because compose lets flags *replace* that variable rather
than add to it; one explicit source avoids surprises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.errors import UsageError

# How many selections compose renders for real beside the derived ones, on each run
# (the seeded cross-check of ``selections``); here so flag parsing needs no render code.
DEFAULT_SAMPLE = 1

ALL_PROFILES = "*"
SEVEN_PROFILES = ("core", "data", "obs", "ai", "messaging", "workflow", "tooling")


@dataclass(frozen=True)
class Combination:
    """One row of the validation matrix: a spec ID and the profiles it enables."""

    check_id: str
    profiles: tuple[str, ...]

    @property
    def label(self) -> str:
        return ",".join(self.profiles) if self.profiles else "(none)"


# VAL-OPT-001 renders the stack exactly as the spec says (no profile flags);
# VAL-OPT-002 is the spec's five combinations.
BASE = ("core", "data", "obs")
VALIDATION_MATRIX: tuple[Combination, ...] = (
    Combination("VAL-OPT-001", ()),
    Combination("VAL-OPT-002", BASE),
    Combination("VAL-OPT-002", (*BASE, "ai")),
    Combination("VAL-OPT-002", (*BASE, "messaging")),
    Combination("VAL-OPT-002", (*BASE, "workflow")),
    Combination("VAL-OPT-002", (*BASE, "tooling")),
)


def parse_profiles(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """``["core,data", "obs"]`` -> ``("core", "data", "obs")``; order kept, duplicates dropped."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    seen: dict[str, None] = {}
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name:
                seen.setdefault(name, None)
    return tuple(seen)


def check_known(requested: Sequence[str], known: Iterable[str]) -> tuple[str, ...]:
    """Fail with the list of known profiles when a requested one does not exist."""
    known_sorted = sorted(set(known))
    unknown = [name for name in requested if name != ALL_PROFILES and name not in known_sorted]
    if unknown:
        raise UsageError(
            f"unknown profile{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            hint=f"known profiles: {', '.join(known_sorted)}",
        )
    return tuple(requested)


def matrix_for(override: Sequence[str]) -> tuple[Combination, ...]:
    """The spec matrix, or a single user-chosen combination when ``--profiles`` is given."""
    if override:
        return (Combination("VAL-OPT-002", tuple(override)),)
    return VALIDATION_MATRIX


def service_profiles(services: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {name: tuple(spec.get("profiles") or ()) for name, spec in services.items()}


def required_dependencies(spec: Mapping[str, Any]) -> list[str]:
    """The services ``spec`` cannot start without (``required: false`` ones left out)."""
    found = []
    for dep, condition in (spec.get("depends_on") or {}).items():
        if isinstance(condition, Mapping) and condition.get("required") is False:
            continue
        found.append(str(dep))
    return found


def profile_needs(services: Mapping[str, Any]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(profile, needed profile) -> the (service, dependency) pairs that make it needed.

    The one derivation of the profile graph: ``invoke profiles`` prints it,
    ``invoke up`` closes a selection over it. A dependency marked
    ``required: false`` does not make its profile needed.
    """
    owner = service_profiles(services)
    because: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, spec in services.items():
        for dep in required_dependencies(spec):
            for profile in owner.get(name, ()):
                for needed in owner.get(dep, ()):
                    if needed not in owner.get(name, ()):
                        because.setdefault((profile, needed), []).append((name, dep))
    return because


def profile_dependencies(services: Mapping[str, Any]) -> dict[str, set[str]]:
    """Which profiles each profile needs, derived from ``depends_on`` in a full model."""
    needs: dict[str, set[str]] = {}
    for profile, needed in profile_needs(services):
        needs.setdefault(profile, set()).add(needed)
    return needs


def with_dependencies(
    requested: Sequence[str], services: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Close ``requested`` over profile dependencies: (full selection, profiles added)."""
    if ALL_PROFILES in requested:
        return tuple(requested), ()
    needs = profile_dependencies(services)
    selected = list(requested)
    index = 0
    while index < len(selected):
        for dep in sorted(needs.get(selected[index], ())):
            if dep not in selected:
                selected.append(dep)
        index += 1
    added = tuple(p for p in selected if p not in requested)
    return tuple(selected), added
