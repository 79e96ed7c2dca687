"""``check --explain RULE``: a rule's doc, an example of a violation and its fix."""

from __future__ import annotations

import difflib
import textwrap

from checks.catalogue import rule_catalogue
from checks.explain_examples import FACTS_KEY
from checks.fixes import FIXES

# An example may state the image facts it assumes under FACTS_KEY; they are shown
# apart, as what infra/image-facts/ would hold.
FACTS_HEADING = "Image facts assumed (records in infra/image-facts/):"


class UnknownRule(LookupError):
    """No rule has this ID; the message lists the closest IDs."""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def split_facts(snippet: str) -> tuple[str, str]:
    """(compose part, facts part) of an example: the facts are the ``x-image-facts``
    block, from its top-level key to the next top-level line."""
    compose: list[str] = []
    facts: list[str] = []
    in_facts = False
    for line in snippet.splitlines():
        if line and not line[0].isspace():
            in_facts = line.startswith(FACTS_KEY)
            if in_facts:
                # A comment on the key line explains the key in docs; here the heading does.
                rest = line.removeprefix(FACTS_KEY).partition("#")[0].strip()
                facts += [rest] if rest else []
                continue
        (facts if in_facts else compose).append(line)
    return "\n".join(compose).strip("\n"), "\n".join(facts)


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
    example, example_facts = split_facts(info.example)
    fixed, fixed_facts = split_facts(info.fixed)
    shared = example_facts == fixed_facts
    if example_facts and shared:
        parts += ["", FACTS_HEADING, _indent(textwrap.dedent(example_facts))]
    cases = (("Violation:", example, example_facts), ("Fixed:", fixed, fixed_facts))
    for heading, text, facts in cases:
        if not text:
            continue
        parts += ["", heading, _indent(text)]
        if facts and not shared:
            parts += [f"  {FACTS_HEADING}", _indent(textwrap.dedent(facts))]
    parts += ["", f"Fix: {info.hint}"]
    if info.fixable:
        parts += [f"Fixable: `stackctl fix` can {FIXES[info.id]}, and proves it with a new check."]
    return "\n".join(parts) + "\n"
