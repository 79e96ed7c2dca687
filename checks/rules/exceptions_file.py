"""Rules about the exceptions file itself (``infra/exceptions.yml``).

``checks.exceptions`` judges them while it reads the file.
"""

from __future__ import annotations

from checks.finding import Severity
from checks.rule import declare

REQUIREMENT = "PRJ-EXCEPTIONS"

declare(
    "EXC-001",
    kind="exceptions",
    requirement=REQUIREMENT,
    severity=Severity.HIGH,
    title="exception entries are complete and unambiguous",
    hint="fix the entry: known keys only, an existing rule and service, "
    'explicit subjects (["*"] for all) and an existing adr',
    doc="Every registry entry has exactly the keys service, rule and/or requirement, "
    "subjects, relaxes, rationale, adr and optionally expires (an ISO date); no "
    "unknown or repeated key. `subjects` lists the exact items relaxed; relaxing "
    'every subject must be written `subjects: ["*"]`. The rule, the requirement '
    "and the service must exist (the service in any profile), and the ADR file must "
    "exist in the repository. An entry that breaks any of this suppresses nothing, "
    "so a typo can never widen an exception.",
    example="""
        exceptions:
          - service: postgres
            rule: PRIV-005
            subject: [CHOWN]   # typo: the key is `subjects`
            relaxes: cap_add CHOWN
            rationale: the entrypoint chowns PGDATA
            adr: docs/adr/0002-entrypoint-capabilities.md
        """,
    fixed="""
        exceptions:
          - service: postgres
            rule: PRIV-005
            subjects: [CHOWN]
            relaxes: cap_add CHOWN
            rationale: the entrypoint chowns PGDATA
            adr: docs/adr/0002-entrypoint-capabilities.md
        """,
    scope="registry",
)

declare(
    "EXC-002",
    kind="exceptions",
    requirement=REQUIREMENT,
    severity=Severity.HIGH,
    title="exceptions have not expired",
    hint="fix the finding, or renew the exception with a new review date and ADR note",
    doc="An entry past its `expires` date no longer suppresses anything and fails the gate.",
    example="""
        exceptions:
          - {service: loki, rule: LOG-001, subjects: [local], relaxes: logging driver,
             rationale: no self-shipping, adr: docs/adr/0003-loki-logging.md,
             expires: 2020-01-31}
        """,
    fixed="""
        exceptions:
          - {service: loki, rule: LOG-001, subjects: [local], relaxes: logging driver,
             rationale: no self-shipping, adr: docs/adr/0003-loki-logging.md,
             expires: 2027-01-31}
        """,
    scope="registry",
)

declare(
    "EXC-003",
    kind="exceptions",
    requirement=REQUIREMENT,
    severity=Severity.MEDIUM,
    title="no stale exceptions",
    hint="delete the entry: the deviation it documents is gone",
    doc="An entry that matches no finding is stale. Only entries whose service was "
    "rendered in this run are judged, so checking one profile does not call the "
    "exceptions of the others stale.",
    example="""
        # grafana no longer adds any capability, but the entry is still there
        exceptions:
          - {service: grafana, rule: PRIV-005, subjects: [CHOWN], relaxes: cap_add CHOWN,
             rationale: old plugin installer, adr: docs/adr/0002-entrypoint-capabilities.md}
        """,
    fixed="""
        exceptions: []
        """,
    scope="registry",
)
