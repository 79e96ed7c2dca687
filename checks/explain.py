"""``check --explain RULE``: a rule's doc, an example of a violation and its fix."""

from __future__ import annotations

import difflib

from checks.catalogue import rule_catalogue


class UnknownRule(LookupError):
    """No rule has this ID; the message lists the closest IDs."""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def explain(rule_id: str) -> str:
    """The explanation of ``rule_id`` (any letter case) as plain text.

    Raises UnknownRule, with near matches in its message, for an unknown ID.
    """
    catalogue = rule_catalogue()
    info = catalogue.get(rule_id.strip().upper())
    if info is None:
        near = difflib.get_close_matches(rule_id.strip().upper(), catalogue, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}?" if near else "see docs/rules.md for every rule"
        raise UnknownRule(f"unknown rule {rule_id!r}: {hint}")
    parts = [
        f"{info.id}: {info.title}",
        f"requirement {info.requirement}, severity {info.severity.label}",
        "",
        info.doc,
    ]
    if info.example:
        parts += ["", "Violation:", _indent(info.example)]
    if info.fixed:
        parts += ["", "Fixed:", _indent(info.fixed)]
    parts += ["", f"Fix: {info.hint}"]
    return "\n".join(parts) + "\n"
