"""REQ-SPC-OPT-004: secrets only as files mounted from Docker secrets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checks.finding import Hit, Severity
from checks.registry import rule
from checks.rules._shared import environment, is_credential_key
from checks.stack import Stack

REQ = "REQ-SPC-OPT-004"
SECRETS_DIR = "/run/secrets/"


def mounted_targets(spec: Mapping[str, Any]) -> dict[str, str]:
    """Map each in-container path of a service's secrets to the secret's name."""
    targets: dict[str, str] = {}
    for entry in spec.get("secrets") or []:
        source = entry if isinstance(entry, str) else str(entry.get("source"))
        target = source if isinstance(entry, str) else str(entry.get("target") or source)
        path = target if target.startswith("/") else SECRETS_DIR + target
        targets[path] = source
    return targets


def referenced_secrets(spec: Mapping[str, Any]) -> set[str]:
    return set(mounted_targets(spec).values())


@rule(
    "SECRET-001",
    requirement=REQ,
    severity=Severity.CRITICAL,
    title="no credential values in environment",
    hint="mount a Docker secret and pass its path as <KEY>_FILE=/run/secrets/<name>",
)
def credential_values(stack: Stack) -> Iterator[Hit]:
    """A credential-shaped key (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``, ``*API_KEY*``, ...)
    never carries a value in ``environment``, whether written literally, interpolated
    from ``${VAR}`` or loaded from an ``env_file`` (compose merges those into the
    model). A ``$$`` escape is still a literal value. Values are never printed.
    """
    for name, spec in stack.services.items():
        for key, value in environment(spec).items():
            if is_credential_key(key) and value not in ("",):
                how = "inherits a value from the host" if value is None else "carries a value"
                yield Hit(name, f"environment key {key} {how}", subject=key)


@rule(
    "SECRET-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="*_FILE points to a secret the service mounts",
    hint="add the secret to the service's secrets: list and point *_FILE at /run/secrets/<name>",
)
def file_references(stack: Stack) -> Iterator[Hit]:
    """A credential-shaped ``*_FILE`` key points to ``/run/secrets/<name>`` of a secret
    that the same service actually mounts."""
    for name, spec in stack.services.items():
        targets = mounted_targets(spec)
        for key, value in environment(spec).items():
            if not key.upper().endswith("_FILE") or not is_credential_key(key[: -len("_FILE")]):
                continue
            if not value or not value.startswith(SECRETS_DIR):
                yield Hit(name, f"{key} does not point under {SECRETS_DIR}", subject=key)
            elif value not in targets:
                yield Hit(name, f"{key} points to a secret the service does not mount", subject=key)


@rule(
    "SECRET-003",
    requirement=REQ,
    severity=Severity.HIGH,
    title="top-level secrets are file-based",
    hint="declare the secret with file: ./secrets/<name>",
)
def file_based_secrets(stack: Stack) -> Iterator[Hit]:
    """Every top-level secret uses ``file:``; ``environment:`` and ``content:`` sources put
    the value in the process environment or the compose file."""
    for secret, spec in (stack.model.get("secrets") or {}).items():
        if not (spec or {}).get("file") and not (spec or {}).get("external"):
            yield Hit("", f"secret {secret} is not file-based", subject=secret)


@rule(
    "SECRET-004",
    requirement=REQ,
    severity=Severity.HIGH,
    title="every referenced secret is declared",
    hint="declare the secret under the root file's secrets: with a file: source",
)
def undeclared_secrets(stack: Stack) -> Iterator[Hit]:
    """A service mounts only secrets that are declared at the top level."""
    declared = set(stack.model.get("secrets") or {})
    for name, spec in stack.services.items():
        for secret in sorted(referenced_secrets(spec) - declared):
            yield Hit(name, f"mounts undeclared secret {secret}", subject=secret)


@rule(
    "SECRET-005",
    requirement=REQ,
    severity=Severity.LOW,
    title="no declared but unused secrets",
    hint="remove the declaration, or mount the secret where it is needed",
)
def unused_secrets(stack: Stack) -> Iterator[Hit]:
    """A secret declared in the root file is mounted by at least one service.

    Judged only on the model with every profile enabled, since compose drops the
    secrets of disabled services from a partial render.
    """
    if not stack.complete:
        return
    used = set().union(*(referenced_secrets(s) for s in stack.services.values()))
    for secret in sorted(set(stack.facts.root.get("secrets") or {}) - used):
        yield Hit("", f"secret {secret} is declared but no service mounts it", subject=secret)
