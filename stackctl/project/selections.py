"""One render, many answers: every profile selection derived from the ``--profile '*'`` model.

Compose enables a service when it has no ``profiles`` or when one of its profiles
is selected; an enabled service whose ``required`` dependency is disabled makes
the selection invalid (``depends on undefined service``). Compose also drops
top-level networks, volumes, secrets and configs no enabled service uses. That
is all a selection changes in the model: interpolation, ``extends`` and
``include`` are resolved before profiles apply, and compose prints the same
warnings for every selection (checked: even a Swarm-key warning of a disabled
service). Interpolation cannot see the selection either: ``--profile`` flags
are not variables, and the runner blanks ``COMPOSE_PROFILES``. So the model of
any selection is the full model filtered here, and never a second merge.

Derivation is checked, not trusted: ``cross_check`` renders a seeded random
sample of selections with real compose in every run and compares the whole
model (and validity, and warnings) with the derived one. Without ``--seed`` a
project that uses the render cache draws its seed from the content of its inputs
(``sample_seed``): unchanged files draw the sample already rendered and cached (a
warm run renders nothing), a changed byte draws anew and renders it for real.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stackctl.errors import StackError
from stackctl.project.compose import Compose
from stackctl.project.profiles import (
    ALL_PROFILES,
    SEVEN_PROFILES,
    profile_needs,
    required_dependencies,
    service_profiles,
)
from stackctl.project.render import Model, RenderOutcome, render_outcome, store_key

T = TypeVar("T")

# Top-level sections compose prunes to what the enabled services use.
_PRUNED_SECTIONS = ("networks", "volumes", "secrets", "configs")


def ordered_profiles(names: Iterable[str]) -> tuple[str, ...]:
    """The stack's seven profiles in tier order first, then any others alphabetically."""
    unique = set(names)
    known = [p for p in SEVEN_PROFILES if p in unique]
    return (*known, *sorted(unique - set(known)))


def non_empty_subsets(profiles: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset, smallest first, each in the order of ``profiles``."""
    return [
        combo
        for size in range(1, len(profiles) + 1)
        for combo in itertools.combinations(profiles, size)
    ]


@dataclass(frozen=True)
class MissingDependency:
    """An enabled service whose required dependency the selection leaves out."""

    service: str
    dependency: str
    dependency_profiles: tuple[str, ...]

    @property
    def reason(self) -> str:
        if not self.dependency_profiles:
            return f"{self.service} needs {self.dependency}, which no profile defines"
        where = " or ".join(self.dependency_profiles)
        plural = "s" if len(self.dependency_profiles) > 1 else ""
        return (
            f"{self.service} needs {self.dependency}, "
            f"which is in profile{plural} {where}, not selected"
        )


@dataclass(frozen=True)
class Selection:
    """One profile selection as derived from the full model."""

    profiles: tuple[str, ...]
    enabled: frozenset[str]
    missing: tuple[MissingDependency, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.missing

    @property
    def label(self) -> str:
        return ",".join(self.profiles) if self.profiles else "(none)"

    @property
    def reason(self) -> str:
        return "; ".join(m.reason for m in self.missing)


@dataclass(frozen=True)
class ProfileNeed:
    """Profile ``profile`` needs ``needed`` because of these (service, dependency) pairs."""

    profile: str
    needed: str
    because: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProfileGraph:
    """Profiles, their services and which profiles each one needs, from one full model."""

    profiles: tuple[str, ...]
    members: Mapping[str, tuple[str, ...]]
    always_on: tuple[str, ...]
    needs: tuple[ProfileNeed, ...]

    def needed_by(self, profile: str) -> list[ProfileNeed]:
        return [need for need in self.needs if need.profile == profile]


class Derivation:
    """Answers for every selection from the one full model (``--profile '*'``)."""

    def __init__(self, full: Model) -> None:
        self.full = full
        self.services: Mapping[str, Any] = full.services
        self.owner = service_profiles(self.services)
        self.profiles = ordered_profiles(p for owned in self.owner.values() for p in owned)

    # -- selections ---------------------------------------------------------------

    def enabled(self, selection: Sequence[str]) -> frozenset[str]:
        if ALL_PROFILES in selection:
            return frozenset(self.services)
        chosen = set(selection)
        return frozenset(
            name for name, owned in self.owner.items() if not owned or chosen.intersection(owned)
        )

    def select(self, selection: Sequence[str]) -> Selection:
        enabled = self.enabled(selection)
        missing = [
            MissingDependency(name, dep, ordered_profiles(self.owner.get(dep, ())))
            for name in sorted(enabled)
            for dep in required_dependencies(self.services[name])
            if dep not in enabled
        ]
        return Selection(tuple(selection), enabled, tuple(missing))

    def all_selections(self) -> list[Selection]:
        """Every non-empty selection of the profiles, smallest first (127 for seven)."""
        return [self.select(combo) for combo in non_empty_subsets(self.profiles)]

    def model(self, selection: Selection) -> Model:
        """The model compose renders for a valid selection, without rendering it."""
        return Model(
            derived_data(self.full.data, selection.enabled),
            selection.profiles,
            self.full.warnings,
        )

    # -- the profile graph ----------------------------------------------------------

    def graph(self) -> ProfileGraph:
        members = {
            p: tuple(sorted(n for n, owned in self.owner.items() if p in owned))
            for p in self.profiles
        }
        always_on = tuple(sorted(n for n, owned in self.owner.items() if not owned))
        because = profile_needs(self.services)
        needs = tuple(
            ProfileNeed(profile, needed, tuple(sorted(pairs)))
            for (profile, needed), pairs in sorted(
                because.items(),
                key=lambda item: (self.profiles.index(item[0][0]), item[0][1]),
            )
        )
        return ProfileGraph(self.profiles, members, always_on, needs)


def _used_resources(services: Mapping[str, Any]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {section: set() for section in _PRUNED_SECTIONS}
    for spec in services.values():
        used["networks"].update(spec.get("networks") or {})
        for mount in spec.get("volumes") or []:
            if isinstance(mount, Mapping) and mount.get("type") == "volume" and mount.get("source"):
                used["volumes"].add(str(mount["source"]))
        for section in ("secrets", "configs"):
            for entry in spec.get(section) or []:
                source = entry.get("source") if isinstance(entry, Mapping) else entry
                if source:
                    used[section].add(str(source))
    return used


def derived_data(full: Mapping[str, Any], enabled: Iterable[str]) -> dict[str, Any]:
    """The full model with only ``enabled`` services and the resources they use."""
    keep = set(enabled)
    services = {n: s for n, s in (full.get("services") or {}).items() if n in keep}
    used = _used_resources(services)
    data: dict[str, Any] = {}
    for key, value in full.items():
        if key == "services":
            data[key] = services
        elif key in _PRUNED_SECTIONS and isinstance(value, Mapping):
            kept = {name: spec for name, spec in value.items() if name in used[key]}
            if kept:
                data[key] = kept
        else:
            data[key] = value
    return data


# -- cross-check ----------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    selection: str
    agrees: bool
    detail: str = ""


@dataclass
class CrossCheck:
    """Derived models compared with real renders: the seed, and each comparison."""

    seed: int
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return all(c.agrees for c in self.comparisons)

    @property
    def disagreements(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.agrees]

    def summary(self) -> str:
        if not self.comparisons:
            return f"cross-check (seed {self.seed}): no profile selection to compare"
        labels = ", ".join(c.selection for c in self.comparisons) or "nothing"
        verdict = "agree" if self.agrees else "DISAGREE"
        return (
            f"cross-check (seed {self.seed}): derived and real renders {verdict} "
            f"for {len(self.comparisons)} selection(s): {labels}"
        )


def first_difference(derived: Any, real: Any, path: str = "") -> str:
    """Where two JSON values first differ, as a dotted path; empty when equal."""
    if isinstance(derived, Mapping) and isinstance(real, Mapping):
        for key in sorted(set(derived) | set(real), key=str):
            here = f"{path}.{key}" if path else str(key)
            if key not in derived:
                return f"{here}: only in the real render"
            if key not in real:
                return f"{here}: only in the derived model"
            found = first_difference(derived[key], real[key], here)
            if found:
                return found
        return ""
    if derived != real:
        return f"{path or '(root)'}: derived {str(derived)[:60]!r}, real {str(real)[:60]!r}"
    return ""


def compare(derivation: Derivation, selection: Selection, real: RenderOutcome) -> Comparison:
    """Does the real render of ``selection`` say what the derivation says?"""
    label = selection.label
    if not selection.valid:
        if real.ok:
            detail = f"derived invalid ({selection.reason}); compose renders"
            return Comparison(label, False, detail)
        if "undefined service" not in real.error:
            return Comparison(label, False, f"compose fails differently: {real.error}")
        return Comparison(label, True)
    if real.model is None:
        return Comparison(label, False, f"derived valid; compose fails: {real.error}")
    if set(real.warnings) != set(derivation.full.warnings):
        return Comparison(label, False, "compose prints different warnings for this selection")
    difference = first_difference(derivation.model(selection).data, real.model.data)
    return Comparison(label, not difference, difference)


def pick_sample(candidates: Sequence[T], size: int, seed: int) -> list[T]:
    """``size`` candidates drawn with ``seed``: the same seed draws the same sample."""
    if size <= 0 or not candidates:
        return []
    return random.Random(seed).sample(list(candidates), min(size, len(candidates)))


def cross_check(
    compose: Compose,
    derivation: Derivation,
    selections: Sequence[Selection],
    *,
    seed: int,
    workers: int = 2,
) -> CrossCheck:
    """Render ``selections`` for real (cached renders are reused) and compare each."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(lambda s: render_outcome(compose, s.profiles), selections))
    result = CrossCheck(seed)
    for selection, outcome in zip(selections, outcomes, strict=True):
        result.comparisons.append(compare(derivation, selection, outcome))
    return result


_SEEDS = 999_999  # seeds are 1 .. 999_999, short enough to type after --seed


def new_seed() -> int:
    return random.SystemRandom().randrange(1, _SEEDS + 1)


def sample_seed(compose: Compose, given: int | None) -> int:
    """The cross-check's seed: ``given``, else one drawn from the render cache's key of
    the full render, so the sample changes exactly when an input does (and is served
    from the cache while none does); else, with no cache, a random one."""
    if given is not None:
        return given
    try:
        key = store_key(compose, (ALL_PROFILES,))
    except StackError:  # the render itself says it, in its place
        key = None
    return new_seed() if key is None else int(key[:16], 16) % _SEEDS + 1


def graph_rows(graph: ProfileGraph) -> list[tuple[str, str, str, str]]:
    """Rows of the profile table: profile, its services, the profiles it needs, and why."""
    rows = []
    if graph.always_on:
        rows.append(("(always on)", ", ".join(graph.always_on), "-", "services without profiles"))
    for profile in graph.profiles:
        needs = graph.needed_by(profile)
        why = "; ".join(
            ", ".join(f"{service} -> {dep}" for service, dep in need.because) for need in needs
        )
        needed = ", ".join(need.needed for need in needs) or "-"
        rows.append((profile, ", ".join(graph.members[profile]), needed, why or "-"))
    return rows


def selection_model(full: Model, profiles: Sequence[str]) -> Model:
    """The model of ``profiles`` derived from the full model (what ``up`` prepares for)."""
    derivation = Derivation(full)
    return derivation.model(derivation.select(tuple(profiles)))
