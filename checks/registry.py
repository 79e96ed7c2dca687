"""The rule registry: ``@rule`` turns a small pure function into a documented rule.

A rule's docstring is its documentation (rendered into docs/rules.md), so the
doc lives in exactly one place, next to the code.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from checks.finding import Hit, Severity
from checks.stack import Stack

RuleFunction = Callable[[Stack], Iterable[Hit]]
# What a rule judges, so the traceability table counts the right things as "pass":
# each service, the project as a whole (its files, top-level objects, env file),
# or each entry of the exceptions registry.
Scope = Literal["service", "project", "registry"]


@dataclass(frozen=True)
class RuleInfo:
    """What reports and docs know about a rule: identity, trace, severity and documentation."""

    id: str
    requirement: str
    severity: Severity
    title: str
    hint: str
    doc: str
    # For --explain: a minimal compose snippet that violates the rule, and the same
    # snippet fixed. Kept next to the rule so the installed package carries them.
    example: str = field(default="", kw_only=True)
    fixed: str = field(default="", kw_only=True)
    scope: Scope = field(default="service", kw_only=True)

    def __post_init__(self) -> None:
        # Snippets are written indented inline; store them dedented, once.
        for name in ("example", "fixed"):
            text = textwrap.dedent(getattr(self, name)).strip("\n")
            object.__setattr__(self, name, text)


@dataclass(frozen=True)
class Rule(RuleInfo):
    """A rule evaluated on a rendered model."""

    function: RuleFunction


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str,
    *,
    requirement: str,
    severity: Severity,
    title: str,
    hint: str,
    example: str = "",
    fixed: str = "",
    scope: Scope = "service",
) -> Callable[[RuleFunction], RuleFunction]:
    """Register ``function`` as rule ``rule_id`` enforcing ``requirement``.

    ``example`` and ``fixed`` are YAML snippets (a violation and its fix) shown by
    ``check --explain``; RuleInfo dedents them, so they can be written inline.
    ``scope`` says what the rule judges: each service (default) or the project.
    """

    def register(function: RuleFunction) -> RuleFunction:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        doc = inspect.cleandoc(function.__doc__ or title)
        RULES[rule_id] = Rule(
            rule_id,
            requirement,
            severity,
            title,
            hint,
            doc,
            function,
            example=example,
            fixed=fixed,
            scope=scope,
        )
        return function

    return register


def all_rules() -> dict[str, Rule]:
    # Importing the package registers every rule module exactly once.
    import checks.rules  # noqa: F401

    return dict(sorted(RULES.items()))
