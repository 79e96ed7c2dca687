"""Every rule a report, a doc or ``--explain`` can name, in one catalogue sorted by ID.

Importing ``checks.rules`` registers each rule exactly once (``checks.rule``);
this module is the only place that does, so nothing below it can form a cycle.
"""

from __future__ import annotations

from checks.rule import REGISTRY, Kind, Rule, RuleInfo


def _load() -> None:
    import checks.rules  # noqa: F401  (registers every rule module)


def rule_catalogue() -> dict[str, RuleInfo]:
    """Rule ID -> what reports, docs and ``--explain`` know about it, sorted by ID."""
    _load()
    return dict(sorted(REGISTRY.items()))


def rules_of_kind(kind: Kind) -> dict[str, RuleInfo]:
    """The rules whose findings one stage produces, sorted by ID."""
    return {rule_id: info for rule_id, info in rule_catalogue().items() if info.kind == kind}


def model_rules() -> dict[str, Rule]:
    """The rules the evaluator runs on a rendered model, sorted by ID."""
    return {rule_id: info for rule_id, info in rule_catalogue().items() if isinstance(info, Rule)}


def fixable_rules() -> dict[str, RuleInfo]:
    """The rules ``fix`` can repair mechanically (``checks.fixes``), sorted by ID."""
    return {rule_id: info for rule_id, info in rule_catalogue().items() if info.fixable}


def info(rule_id: str) -> RuleInfo:
    """One rule's catalogue entry (a KeyError for an unknown ID is a bug, not input)."""
    return rule_catalogue()[rule_id]
