"""Fixes that change which template a service extends: the platform's sizes and logging.

Both apply only in a project that has the templates: size templates are those
that add nothing but ``deploy.resources.limits`` (memory, CPU and pids) to the
template they extend; the logging template is the one that holds nothing but a
Loki ``logging:`` section. A service gets the smallest size that extends the
template it extends now, so nothing else about it changes; choosing a larger one
is a person's call, and the description says so.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from checks.fixes import Refused, TextEdit, extend_template, retarget_extends
from checks.limits import parse_size
from checks.stack import ProjectFacts
from stackctl.fixing.origin import Chain, Place, extended, writes


@dataclass(frozen=True)
class TemplateFix:
    file: str
    edit: TextEdit
    description: str


def _specs(facts: ProjectFacts) -> list[tuple[Place, Mapping[str, Any]]]:
    found = []
    for file, data in facts.documents.items():
        services = data.get("services") if isinstance(data, Mapping) else None
        for name, spec in (services or {}).items() if isinstance(services, Mapping) else []:
            if isinstance(spec, Mapping):
                found.append((Place(file, str(name)), spec))
    return found


def _size(spec: Mapping[str, Any]) -> int | None:
    """The memory limit of a template that only adds limits, else None."""
    deploy = spec.get("deploy")
    if (
        set(spec) - {"extends", "deploy"}
        or not isinstance(deploy, Mapping)
        or set(deploy) != {"resources"}
    ):
        return None
    resources = deploy.get("resources")
    limits = resources.get("limits") if isinstance(resources, Mapping) else None
    if not isinstance(limits, Mapping) or not {"memory", "cpus", "pids"} <= set(limits):
        return None
    return parse_size(limits["memory"])


def size_fix(
    facts: ProjectFacts, chain: Chain, shared_by: set[str], text_of: Callable[[str], str]
) -> TemplateFix:
    """Point the service's own ``extends`` at the smallest size template of its template."""
    own = [p for p in chain.places if p not in chain.templates]
    linked = next((p for p in own if writes(facts, p, "extends")), None)
    if linked is None:
        raise Refused("it extends no template a size template could extend")
    if shared_by - {chain.service}:
        raise Refused(f"{linked} is also a template of {', '.join(sorted(shared_by))}")
    base, why = extended(facts, linked)
    if base is None:
        raise Refused(why or "its template cannot be read")
    sizes = sorted(
        (size, place)
        for place, spec in _specs(facts)
        if (size := _size(spec)) is not None
        and place.file == base.file
        and extended(facts, place)[0] == base
    )
    if not sizes:
        raise Refused(f"no size template extends {base}; the project has none to offer")
    chosen = sizes[0][1]
    others = ", ".join(p.name for _, p in sizes[1:])
    more = f"; {others} give more" if others else ""
    edit = retarget_extends(text_of(linked.file), linked.name, chosen.name)
    text = f"extend the size template {chosen.name} instead of {base.name}{more}"
    return TemplateFix(linked.file, edit, f"{text} in {linked}")


def logging_fix(
    facts: ProjectFacts, chain: Chain, blocked: list[str], text_of: Callable[[str], str]
) -> TemplateFix:
    """Make the root of the service's chain extend the Loki logging template."""
    writer = next((p for p in chain.places if writes(facts, p, "logging")), None)
    if writer is not None:
        raise Refused(f"logging is written in {writer}; a person chose it")
    templates = [
        place
        for place, spec in _specs(facts)
        if set(spec) == {"logging"}
        and isinstance(spec["logging"], Mapping)
        and spec["logging"].get("driver") == "loki"
    ]
    if len(templates) > 1:
        named = [p for p in templates if p.name == "logging-loki"]
        templates = named if len(named) == 1 else templates
    if len(templates) != 1:
        what = "no Loki logging template" if not templates else "several Loki logging templates"
        raise Refused(f"the project has {what}")
    (template,) = templates
    root = chain.places[-1] if chain.places else None
    if root is None or writes(facts, root, "extends"):
        raise Refused(f"the root of its chain ({root}) extends through a variable or elsewhere")
    if blocked:
        raise Refused(f"{root} is also a template of {', '.join(blocked)}")
    relative = posixpath.relpath(template.file, posixpath.dirname(root.file) or ".")
    file = "" if template.file == root.file else relative
    edit = extend_template(text_of(root.file), root.name, file, template.name)
    return TemplateFix(root.file, edit, f"extend {template} from {root}")
