"""Where a service's value comes from: its declarations and the templates they extend.

Compose resolves each file's ``extends`` first, then merges the ``-f`` files in
order, so what wins for one key is, nearest first: the last file's own entry, the
templates it extends, then the earlier files and their templates. ``Chain`` lists
those places in that order, read from the raw files ``ProjectFacts`` holds. A
link that names a ``${VAR}`` (``logging-${LOG_DRIVER}``) or a file outside the
project ends the chain: what lies beyond depends on the environment, so no fix
goes there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from checks.compose_files import extends_of, raw_service
from checks.stack import ProjectFacts


@dataclass(frozen=True)
class Place:
    """One ``services.<name>`` mapping of one file: a service itself or a template."""

    file: str
    name: str

    def __str__(self) -> str:
        return f"{self.file} (services.{self.name})"


@dataclass(frozen=True)
class Chain:
    """The places a service's value can come from, the one that wins first."""

    service: str
    places: tuple[Place, ...]
    templates: frozenset[Place]
    home: Place | None  # where the service is defined; None when that is ambiguous
    why_no_home: str = ""

    def above(self, place: Place) -> tuple[Place, ...]:
        """The places whose value wins over ``place``'s."""
        return self.places[: self.places.index(place)] if place in self.places else ()


def _spec(facts: ProjectFacts, place: Place) -> Mapping[str, Any]:
    return raw_service(facts.documents, place.file, place.name)


def writes(facts: ProjectFacts, place: Place, key: str) -> bool:
    """True when the raw mapping at ``place`` has ``key`` (a merge key's too)."""
    return key in _spec(facts, place)


def written(facts: ProjectFacts, place: Place, key: str) -> Any:
    return _spec(facts, place).get(key)


def extended(facts: ProjectFacts, place: Place) -> tuple[Place | None, str]:
    """The template ``place`` extends, or None and why the chain stops here ("" at its end)."""
    spec = _spec(facts, place)
    if spec.get("extends") is None:
        return None, ""
    target = extends_of(place.file, spec)
    if target is None:
        return None, f"{place} has an extends compose would refuse"
    file, name = target
    written_file = spec["extends"].get("file") if isinstance(spec["extends"], Mapping) else None
    if "$" in name or "$" in str(written_file or ""):
        return None, f"{place} extends through a variable"
    if file != place.file and (file.startswith("../") or file not in facts.documents):
        return None, f"{place} extends {written_file}, a file outside the project"
    return Place(file, name), ""


def chain_of(facts: ProjectFacts, service: str) -> Chain:
    declarations = facts.declarations.get(service, ())
    places: list[Place] = []
    templates: set[Place] = set()
    # The last -f file wins, so its declaration (and what it extends) comes first.
    for declaration in reversed(declarations):
        place: Place | None = Place(declaration.file, service)
        first = True
        while place is not None and place not in places:
            places.append(place)
            if not first:
                templates.add(place)
            first = False
            place, _ = extended(facts, place)
    units = {d.unit for d in declarations}
    if not declarations:
        return Chain(service, tuple(places), frozenset(templates), None, "no file declares it")
    if len(units) > 1:
        files = ", ".join(sorted({d.file for d in declarations}))
        why = f"it is defined in several included files ({files})"
        return Chain(service, tuple(places), frozenset(templates), None, why)
    home = Place(declarations[0].file, service)
    return Chain(service, tuple(places), frozenset(templates), home)


def chains(facts: ProjectFacts, services: Iterable[str]) -> dict[str, Chain]:
    return {service: chain_of(facts, service) for service in services}


def users(all_chains: Mapping[str, Chain]) -> dict[Place, set[str]]:
    """Template -> the services whose value it can give."""
    found: dict[Place, set[str]] = {}
    for chain in all_chains.values():
        for place in chain.templates:
            found.setdefault(place, set()).add(chain.service)
    return found
