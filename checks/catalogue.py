"""Every rule a report or a doc can name: model rules, compose warnings, the registry."""

from __future__ import annotations

from checks.registry import RuleInfo, all_rules
from checks.waivers import META_RULES
from checks.warnings import WARNING_RULES


def rule_catalogue() -> dict[str, RuleInfo]:
    """Rule ID -> what reports, docs and ``--explain`` know about it, sorted by ID."""
    infos: dict[str, RuleInfo] = {**all_rules(), **WARNING_RULES, **META_RULES}
    return dict(sorted(infos.items()))
