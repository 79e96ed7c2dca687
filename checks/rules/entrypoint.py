"""REQ-SPC-OPT-001: the root docker-compose.yml is the single supported entrypoint."""

from __future__ import annotations

from collections.abc import Iterator

from checks.finding import Hit, Severity
from checks.registry import rule
from checks.stack import Stack

REQ = "REQ-SPC-OPT-001"
ROOT_KEYS = {"name", "include", "networks", "secrets", "volumes", "configs"}


@rule(
    "ROOT-001",
    requirement=REQ,
    severity=Severity.HIGH,
    title="the root file only wires the stack together",
    hint="move services into infra/<NN>-<tier>/<service>/docker-compose.yml and include them",
)
def root_keys(stack: Stack) -> Iterator[Hit]:
    """The root file holds only ``name``, ``include``, ``networks``, ``secrets``,
    ``volumes``, ``configs`` and ``x-*`` keys: no services of its own."""
    for key in stack.facts.root:
        if key not in ROOT_KEYS and not str(key).startswith("x-"):
            yield Hit("", f"root file defines top-level key {key}", subject=str(key))


@rule(
    "ROOT-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="every infra compose file is included",
    hint="add the file to the root file's include: list",
)
def all_included(stack: Stack) -> Iterator[Hit]:
    """Each ``infra/**/docker-compose.yml`` is listed in the root ``include``; a file that
    is not included is dead configuration that validation never sees."""
    included = set(stack.facts.included)
    for path in sorted(stack.facts.compose_files):
        if path.startswith("infra/") and path not in included:
            yield Hit("", f"{path} is not included by the root file", subject=path, source=path)


@rule(
    "ROOT-003",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no services outside infra/",
    hint="move the service under infra/ and include it from the root file",
)
def services_outside_infra(stack: Stack) -> Iterator[Hit]:
    """No compose file outside ``infra/`` (the root file included) defines services."""
    for path, data in sorted(stack.facts.compose_files.items()):
        if not path.startswith("infra/") and (data or {}).get("services"):
            yield Hit("", f"{path} defines services outside infra/", subject=path, source=path)
