"""The one rule model: every check the tool can report is declared here the same way.

A rule is a ``RuleInfo``: identity, requirement, severity, title, fix hint and
doc (plus an example violation and its fix for ``--explain``). Its ``kind``
says who produces its findings:

- ``model``: a pure function over a rendered model (``@rule``), run by the evaluator;
- ``compose``: compose's own warnings and renders that fail (``checks.warnings``);
- ``exceptions``: the exceptions file itself (``checks.exceptions``);
- ``runtime``: what a running container shows (``stackctl.runtime``).

Non-model rules are declared with ``declare``. Either way the rule lands in one
registry, so the catalogue, ``docs/rules.md``, ``--explain`` and every report
know it. This module imports no rule: ``checks.catalogue`` loads them.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from checks import fixes
from checks.finding import Finding, Hit, Severity
from checks.stack import Stack

RuleFunction = Callable[[Stack], Iterable[Hit]]
# What a rule judges, so the traceability table counts the right things as "pass":
# each service, the project as a whole (its files, top-level objects, env file),
# or each entry of the exceptions file.
Scope = Literal["service", "project", "registry"]
Kind = Literal["model", "compose", "exceptions", "runtime"]


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
    kind: Kind = field(default="model", kw_only=True)
    # Static rules this one enforces at another stage (a runtime check mirrors the
    # rule that declares the control), so an exception for them applies here too.
    mirrors: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        # Snippets are written indented inline; store them dedented, once.
        for name in ("example", "fixed"):
            text = textwrap.dedent(getattr(self, name)).strip("\n")
            object.__setattr__(self, name, text)

    @property
    def fixable(self) -> bool:
        """True when ``fix`` has a mechanical fix for this rule (the ``checks.fixes`` registry)."""
        return self.id in fixes.FIXES

    def finding(
        self,
        service: str,
        message: str,
        *,
        source: str,
        line: int = 1,
        subject: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule: its ID, requirement and hint, at ``source``:``line``,
        with the rule's severity unless ``severity`` overrides it."""
        return Finding(
            self.id,
            self.requirement,
            self.severity if severity is None else severity,
            service,
            message,
            self.hint,
            source,
            line=line,
            subject=subject,
        )


@dataclass(frozen=True)
class Rule(RuleInfo):
    """A rule evaluated on a rendered model."""

    function: RuleFunction


REGISTRY: dict[str, RuleInfo] = {}


def _register(info: RuleInfo) -> None:
    if info.id in REGISTRY:
        raise ValueError(f"duplicate rule id {info.id}")
    REGISTRY[info.id] = info


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
    """Register ``function`` as model rule ``rule_id`` enforcing ``requirement``.

    The function's docstring is the rule's doc. ``example`` and ``fixed`` are YAML
    snippets (a violation and its fix) shown by ``check --explain``; they are
    dedented, so they can be written inline. ``scope`` says what the rule judges:
    each service (default) or the project.
    """

    def register(function: RuleFunction) -> RuleFunction:
        doc = inspect.cleandoc(function.__doc__ or title)
        _register(
            Rule(
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
        )
        return function

    return register


def declare(
    rule_id: str,
    *,
    kind: Kind,
    requirement: str,
    severity: Severity,
    title: str,
    hint: str,
    doc: str,
    example: str = "",
    fixed: str = "",
    scope: Scope = "service",
    mirrors: tuple[str, ...] = (),
) -> RuleInfo:
    """Register a rule whose findings another stage produces (compose, exceptions, runtime)."""
    info = RuleInfo(
        rule_id,
        requirement,
        severity,
        title,
        hint,
        inspect.cleandoc(doc),
        example=example,
        fixed=fixed,
        scope=scope,
        kind=kind,
        mirrors=mirrors,
    )
    _register(info)
    return info
