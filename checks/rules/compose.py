"""Compose's own verdicts as rules: its warnings, and selections that do not render.

``checks.warnings`` turns each warning line (and each failed render) into a
finding of one of these rules, located at the file and line of the key.
"""

from __future__ import annotations

from checks.finding import Severity
from checks.rule import declare

VALIDATION = "VAL-OPT-001"  # compose config renders without warnings
MATRIX = "VAL-OPT-002"  # every profile combination renders

declare(
    "COMPOSE-001",
    kind="compose",
    requirement=VALIDATION,
    severity=Severity.HIGH,
    title="no Swarm-only keys that compose ignores",
    hint="remove the key, or move the setting to one compose applies "
    "(labels:, deploy.resources.limits, a secret file with the right owner)",
    doc="Compose warns and then ignores keys that only Docker Swarm applies: "
    "``deploy.labels``, ``deploy.placement``, ``deploy.update_config``, "
    "``deploy.rollback_config``, ``deploy.mode``, ``deploy.endpoint_mode``, "
    "``uid``/``gid``/``mode`` on secrets and configs, ``ports[].mode: host``, "
    "``labels``/``driver_opts`` on top-level secrets and configs, cluster volumes. "
    "The author believes the setting is in force and it is not: a secret keeps the "
    "host file's permissions, a router label never reaches the container.",
    example="""
        services:
          web:
            image: nginx:1.27.3
            deploy:
              labels: {traefik.enable: "true"}
        """,
    fixed="""
        services:
          web:
            image: nginx:1.27.3
            labels: {traefik.enable: "true"}
        """,
)

declare(
    "COMPOSE-002",
    kind="compose",
    requirement=VALIDATION,
    severity=Severity.LOW,
    title="no obsolete or deprecated compose syntax",
    hint="delete the top-level version: key; "
    "write external networks as name: X plus external: true",
    doc="The top-level ``version:`` key is obsolete and ignored; ``external: {name: X}`` is "
    "deprecated. Compose still does the right thing, but the file is written for a "
    "tool that no longer exists.",
    example="""
        version: "3.8"
        services:
          web: {image: "nginx:1.27.3"}
        """,
    fixed="""
        services:
          web: {image: "nginx:1.27.3"}
        """,
    scope="project",
)

declare(
    "COMPOSE-003",
    kind="compose",
    requirement=VALIDATION,
    severity=Severity.MEDIUM,
    title="no variable silently defaults to a blank string",
    hint="set the variable in the env file, give it a default ${X:-value}, "
    "or make it required with ${X:?message}",
    doc="An unset variable is replaced by an empty string with only a warning: an empty "
    "tag, path or option changes what runs. Medium, because whether it matters depends "
    "on the env file used for the run (HYG-004 separately requires every variable to be "
    "documented in .env.example).",
    example="""
        services:
          web: {image: "nginx:${NGINX_TAG}"}
        """,
    fixed="""
        services:
          web: {image: "nginx:${NGINX_TAG:?set NGINX_TAG in .env}"}
        """,
    scope="project",
)

declare(
    "COMPOSE-009",
    kind="compose",
    requirement=VALIDATION,
    severity=Severity.MEDIUM,
    title="compose renders without other warnings",
    hint="read compose's warning (quoted in the finding) and change the named key",
    doc="Any other warning compose prints while rendering, quoted as compose wrote it. "
    "Nothing compose says is dropped, even when this checker does not know the text.",
    example="""
        # any warning without a rule of its own, for example from a newer compose:
        # WARN[0000] service "web": some.key: some.key is not supported any more
        """,
    fixed="""
        # change or remove the key the quoted warning names
        """,
)

declare(
    "RENDER-001",
    kind="compose",
    requirement=MATRIX,
    severity=Severity.HIGH,
    title="every profile combination renders",
    hint="fix the error compose reports for that combination "
    "(often a depends_on across profiles: add required: false)",
    doc="A profile combination that ``docker compose config`` refuses cannot be started. "
    "The other combinations are still checked; the run only stops when none renders.",
    example="""
        services:
          api: {image: "api:1.2.0", depends_on: [cache]}
          cache: {image: "valkey:8.0.2", profiles: [data]}
        """,
    fixed="""
        services:
          api:
            image: "api:1.2.0"
            depends_on: {cache: {condition: service_started, required: false}}
          cache: {image: "valkey:8.0.2", profiles: [data]}
        """,
    scope="project",
)
