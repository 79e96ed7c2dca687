"""Which image each service runs, and the facts record of that exact reference.

The lookups the image-aware rules share; the records themselves are parsed by
``checks.image_facts``. A service whose image has no record gets None here (IMG-001
reports it once), so the other rules skip it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checks.image_facts import ImageFacts
from checks.stack import Stack


def image_name(spec: Mapping[str, Any]) -> str:
    return str(spec.get("image") or "")


def facts_for(stack: Stack, spec: Mapping[str, Any]) -> ImageFacts | None:
    return stack.facts.images.get(image_name(spec))


def with_facts(stack: Stack) -> Iterator[tuple[str, Mapping[str, Any], ImageFacts]]:
    """(name, spec, facts) of each service whose image has a facts record."""
    for name, spec in stack.services.items():
        facts = facts_for(stack, spec)
        if facts is not None:
            yield name, spec, facts
