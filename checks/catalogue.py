"""Every rule a report or a doc can name: model rules, compose warnings, the registry."""

from __future__ import annotations

from dataclasses import replace

from checks.registry import RuleInfo, all_rules
from checks.waivers import META_RULES
from checks.warnings import WARNING_RULES

# Warning rules about the files or the matrix as a whole rather than one service.
PROJECT_WARNING_RULES = frozenset({"COMPOSE-002", "COMPOSE-003", "RENDER-001"})


def rule_catalogue() -> dict[str, RuleInfo]:
    """Rule ID -> what reports, docs and ``--explain`` know about it, sorted by ID."""
    warnings = {
        rule_id: replace(info, scope="project") if rule_id in PROJECT_WARNING_RULES else info
        for rule_id, info in WARNING_RULES.items()
    }
    registry = {rule_id: replace(info, scope="registry") for rule_id, info in META_RULES.items()}
    infos: dict[str, RuleInfo] = {**all_rules(), **warnings, **registry}
    return dict(sorted(infos.items()))
