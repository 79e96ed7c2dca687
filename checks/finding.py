"""What a rule reports: a finding traced to a requirement, with a fix hint and a source."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import IntEnum


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


# Weights for comparing the overall risk of two configurations.
RISK_WEIGHT = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 4,
    Severity.CRITICAL: 8,
}


@dataclass(frozen=True)
class Hit:
    """What a rule function yields: the service, a message and what exactly is wrong.

    ``subject`` names the offending item (a capability, an env key, a port) so that
    an exception can relax exactly that item and fingerprints stay stable.
    Messages never contain secret values.
    """

    service: str
    message: str
    subject: str = ""
    severity: Severity | None = None  # overrides the rule's default when set
    source: str = ""  # a file, for findings about a file rather than a service
    line: int = 0  # the line in ``source``, when known


@dataclass(frozen=True)
class Finding:
    rule_id: str
    requirement: str
    severity: Severity
    service: str
    message: str
    hint: str
    source: str
    line: int = 1
    subject: str = ""
    suppressed_by: str = ""  # the exception's rationale when the finding is excepted
    suppressed_relaxes: str = ""  # what the exception says it relaxes, for the report

    @property
    def fingerprint(self) -> str:
        """Stable across runs and line moves: rule, service and subject only."""
        key = f"{self.rule_id}|{self.service}|{self.subject}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def suppressed(self) -> bool:
        return bool(self.suppressed_by)

    def suppress(self, reason: str, relaxes: str = "") -> Finding:
        return replace(self, suppressed_by=reason, suppressed_relaxes=relaxes)


def risk_score(findings: list[Finding]) -> int:
    return sum(RISK_WEIGHT[f.severity] for f in findings if not f.suppressed)
