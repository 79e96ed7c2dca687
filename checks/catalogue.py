"""Every rule a report, a doc or ``--explain`` can name, in one catalogue sorted by ID.

Importing ``checks.rules`` registers each rule exactly once (``checks.rule``);
this module is the only place that does, so nothing below it can form a cycle.
"""

from __future__ import annotations

from checks.rule import REGISTRY, Kind, Rule, RuleInfo


def _load() -> None:
    import checks.rules  # noqa: F401  (registers every rule module)


# The catalogue as built, with the registry's size it was built from: built once per
# process (every finding, waiver and report asks for it), again only if a rule is added.
_built: tuple[int, dict[str, RuleInfo], dict[Kind, dict[str, RuleInfo]]] | None = None


def _catalogue() -> tuple[dict[str, RuleInfo], dict[Kind, dict[str, RuleInfo]]]:
    global _built
    _load()
    if _built is None or _built[0] != len(REGISTRY):
        catalogue = dict(sorted(REGISTRY.items()))
        kinds: dict[Kind, dict[str, RuleInfo]] = {}
        for rule_id, entry in catalogue.items():
            kinds.setdefault(entry.kind, {})[rule_id] = entry
        _built = (len(REGISTRY), catalogue, kinds)
    return _built[1], _built[2]


def rule_catalogue() -> dict[str, RuleInfo]:
    """Rule ID -> what reports, docs and ``--explain`` know about it, sorted by ID.

    A copy of the one built catalogue: callers may change it, never the original.
    """
    return dict(_catalogue()[0])


def rules_of_kind(kind: Kind) -> dict[str, RuleInfo]:
    """The rules whose findings one stage produces, sorted by ID."""
    return dict(_catalogue()[1].get(kind, {}))


def model_rules() -> dict[str, Rule]:
    """The rules the evaluator runs on a rendered model, sorted by ID."""
    return {rule_id: info for rule_id, info in rule_catalogue().items() if isinstance(info, Rule)}


def fixable_rules() -> dict[str, RuleInfo]:
    """The rules ``fix`` can repair mechanically (``checks.fixes``), sorted by ID."""
    return {rule_id: info for rule_id, info in rule_catalogue().items() if info.fixable}


def info(rule_id: str) -> RuleInfo:
    """One rule's catalogue entry (a KeyError for an unknown ID is a bug, not input)."""
    return rule_catalogue()[rule_id]
