"""REQ-SPC-OPT-001: the root docker-compose.yml is the single supported entrypoint."""

from __future__ import annotations

from collections.abc import Iterator

from checks.finding import Hit, Severity
from checks.rule import rule
from checks.stack import Stack

REQ = "REQ-SPC-OPT-001"
ROOT_KEYS = {"name", "include", "networks", "secrets", "volumes", "configs"}


@rule(
    "ROOT-001",
    requirement=REQ,
    scope="project",
    severity=Severity.HIGH,
    title="the root file only wires the stack together",
    hint="move services into infra/<NN>-<tier>/<service>/docker-compose.yml and include them",
    example="""
    # docker-compose.yml
    services:
      web: {image: "nginx:1.27.3"}
    """,
    fixed="""
    # docker-compose.yml; the service moves to infra/10-core/web/docker-compose.yml
    include:
      - infra/10-core/web/docker-compose.yml
    """,
)
def root_keys(stack: Stack) -> Iterator[Hit]:
    """The root file holds only ``name``, ``include``, ``networks``, ``secrets``,
    ``volumes``, ``configs`` and ``x-*`` keys: no services of its own."""
    root = stack.facts.root_name
    for key in stack.facts.root:
        if key not in ROOT_KEYS and not str(key).startswith("x-"):
            yield Hit(
                "",
                f"root file {root} defines top-level key {key}; expected only include, "
                "networks, secrets, volumes, configs, name and x-* keys",
                subject=str(key),
                source=root,
            )


@rule(
    "ROOT-002",
    requirement=REQ,
    scope="project",
    severity=Severity.HIGH,
    title="every infra compose file is included",
    hint="add the file to the root file's include: list",
    example="""
    # infra/70-tooling/mailpit/docker-compose.yml exists, but:
    include:
      - infra/10-core/web/docker-compose.yml
    """,
    fixed="""
    include:
      - infra/10-core/web/docker-compose.yml
      - infra/70-tooling/mailpit/docker-compose.yml
    """,
)
def all_included(stack: Stack) -> Iterator[Hit]:
    """Each ``infra/**/docker-compose.yml`` is loaded: given with ``-f`` or included,
    directly or through another included file. A file nothing loads is dead
    configuration that validation never sees."""
    for path in sorted(stack.facts.unloaded):  # known by name: they are never parsed
        if path.startswith("infra/"):
            yield Hit(
                "",
                f"{path} is not included by {stack.facts.root_name} (directly or indirectly)",
                subject=path,
                source=path,
            )


@rule(
    "ROOT-003",
    requirement=REQ,
    scope="project",
    severity=Severity.HIGH,
    title="no services outside infra/",
    hint="move the service under infra/ and include it from the root file",
    example="""
    # tools/compose.yaml, outside infra/
    services:
      adminer: {image: "adminer:4.8.1"}
    """,
    fixed="""
    # infra/70-tooling/adminer/docker-compose.yml, included from the root file
    services:
      adminer: {image: "adminer:4.8.1"}
    """,
)
def services_outside_infra(stack: Stack) -> Iterator[Hit]:
    """No compose file outside ``infra/`` (the root file included) defines services."""
    declaring = {
        path: bool((data or {}).get("services")) for path, data in stack.facts.compose_files.items()
    }
    # A file nothing loads is not parsed: its first MiB is searched for `services:`.
    declaring.update(stack.facts.unloaded)
    for path, declares in sorted(declaring.items()):
        if not path.startswith("infra/") and declares:
            yield Hit(
                "",
                f"{path} defines services; expected them in infra/<NN>-<tier>/<service>/",
                subject=path,
                source=path,
            )


@rule(
    "ROOT-004",
    requirement=REQ,
    severity=Severity.HIGH,
    title="each service is defined in one place",
    hint="keep one definition; to change an included service, use an override file with -f",
    example="""
    # docker-compose.yml
    include:
      - infra/20-data/postgres/docker-compose.yml   # defines postgres
      - infra/60-workflow/n8n/docker-compose.yml    # defines postgres again
    """,
    fixed="""
    # postgres is now defined only in infra/20-data/postgres; n8n depends on it.
    # A deliberate change to it goes in an override file given with a second -f.
    include:
      - infra/20-data/postgres/docker-compose.yml
      - infra/60-workflow/n8n/docker-compose.yml
    """,
)
def duplicate_services(stack: Stack) -> Iterator[Hit]:
    """A service defined in two included files, or in a file and in a file it includes,
    is resolved silently by compose: one definition wins (or the two are merged) and
    nothing says so. Overrides given with several ``-f`` files, and the paths of one
    ``include`` entry written as a list, are deliberate merges and are not reported."""
    for name, places in sorted(stack.facts.declarations.items()):
        if len({place.unit for place in places}) < 2:
            continue
        first, *others = places
        for other in others:
            if other.unit != first.unit:
                yield Hit(
                    name,
                    f"defined in {first.file}:{first.line} and again in {other.file}:{other.line}",
                    subject=other.file,
                    source=other.file,
                    line=other.line,
                )
