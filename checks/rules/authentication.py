"""Datastores with their authentication switched off (REQ-SPC-OPT-004).

The secrets requirement assumes a credential to protect: a database that trusts
every connection, or a search engine with its security plugin off, has none, so
whoever reaches its port owns its data. Each switch is a row of data below; the
rules only decide how far the port reaches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from checks.addresses import is_loopback
from checks.finding import Hit, Severity
from checks.rule import rule
from checks.rules._shared import environment, words_of
from checks.stack import Stack

REQ = "REQ-SPC-OPT-004"
Reach = Literal["network", "loopback", "internal"]


def _is(*values: str) -> Callable[[str], bool]:
    return lambda value: value.strip().lower() in values


def _contains(*parts: str) -> Callable[[str], bool]:
    return lambda value: any(part in value for part in parts)


def _present(value: str) -> bool:
    return True  # a flag that takes no value: being there is enough


def _non_empty(value: str) -> bool:
    # The MySQL and MariaDB entrypoints test for a non-empty value: even "no" enables it.
    return bool(value.strip())


@dataclass(frozen=True)
class Switch:
    """One way to turn a datastore's authentication off: an environment key (or a
    command option, written with its leading dashes) and the values that do it."""

    key: str
    matches: Callable[[str], bool]
    effect: str
    # Keys that, when set, give the datastore a password after all (MySQL's root password).
    unless: tuple[str, ...] = ()


MYSQL_ROOT = ("MYSQL_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD_FILE", "MYSQL_RANDOM_ROOT_PASSWORD")
MARIADB_ROOT = (
    *MYSQL_ROOT,
    "MARIADB_ROOT_PASSWORD",
    "MARIADB_ROOT_PASSWORD_FILE",
    "MARIADB_RANDOM_ROOT_PASSWORD",
)
DATABASE_SWITCHES = (
    Switch("POSTGRES_HOST_AUTH_METHOD", _is("trust"), "PostgreSQL trusts every connection"),
    Switch(
        "POSTGRES_INITDB_ARGS",
        _contains("--auth=trust", "--auth-host=trust"),
        "PostgreSQL is initialised to trust every connection",
    ),
    Switch("AUTH_TYPE", _is("trust"), "PgBouncer trusts every client"),
    Switch("PGBOUNCER_AUTH_TYPE", _is("trust"), "PgBouncer trusts every client"),
    Switch("MYSQL_ALLOW_EMPTY_PASSWORD", _non_empty, "MySQL's root has no password", MYSQL_ROOT),
    Switch(
        "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
        _non_empty,
        "MariaDB's root has no password",
        MARIADB_ROOT,
    ),
    Switch(
        "MARIADB_ALLOW_EMPTY_PASSWORD", _non_empty, "MariaDB's root has no password", MARIADB_ROOT
    ),
    Switch("ALLOW_EMPTY_PASSWORD", _is("yes", "true", "1"), "the database accepts no password"),
    Switch("NEO4J_AUTH", _is("none"), "Neo4j has authentication off"),
    Switch("--skip-grant-tables", _present, "MySQL skips every privilege check"),
    Switch("--noauth", _present, "MongoDB has authentication off"),
)
SEARCH_SWITCHES = (
    Switch("xpack.security.enabled", _is("false"), "Elasticsearch security is off"),
    Switch("-Expack.security.enabled", _is("false"), "Elasticsearch security is off"),
    Switch("plugins.security.disabled", _is("true"), "the OpenSearch security plugin is off"),
    Switch("DISABLE_SECURITY_PLUGIN", _is("true"), "the OpenSearch security plugin is off"),
    Switch(
        "DISABLE_SECURITY_DASHBOARDS_PLUGIN",
        _is("true"),
        "OpenSearch Dashboards security is off",
    ),
    Switch("--protected-mode", _is("no"), "Redis/Valkey protected mode is off", ("--requirepass",)),
)


def _settings(spec: Mapping[str, Any]) -> dict[str, str]:
    """Environment values and command options (``--opt value``, ``--opt=value``,
    ``-Ekey=value``, a bare ``--flag`` as ""), as one lookup."""
    found = {key: value or "" for key, value in environment(spec).items()}
    words = words_of(spec, "command")
    for index, word in enumerate(words):
        if not word.startswith("-"):
            continue
        option, equals, value = word.partition("=")
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "-E" and "=" in following:  # elasticsearch -E key=value
            key, _, value = following.partition("=")
            found.setdefault(f"-E{key}", value)
        elif equals:
            found.setdefault(option, value)
        elif following and not following.startswith("-"):
            found.setdefault(option, following)
        else:
            found.setdefault(option, "")
    return found


def switched_off(spec: Mapping[str, Any], switches: tuple[Switch, ...]) -> Iterator[Switch]:
    settings = _settings(spec)
    for switch in switches:
        value = settings.get(switch.key)
        if value is None or not switch.matches(value):
            continue
        if any(settings.get(key) for key in switch.unless):
            continue
        yield switch


def reach(spec: Mapping[str, Any]) -> Reach:
    """How far a service's ports reach: published on a non-loopback address
    ("network"), only on loopback ("loopback"), or not published ("internal")."""
    found: Reach = "internal"
    for port in spec.get("ports") or []:
        if not isinstance(port, Mapping) or not port.get("published"):
            continue
        if not is_loopback(str(port.get("host_ip") or "0.0.0.0")):
            return "network"
        found = "loopback"
    return found


def _where(switch: Switch) -> str:
    return switch.key if switch.key.startswith("-") else f"{switch.key} in environment"


@rule(
    "AUTH-001",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no database with its authentication switched off",
    hint="give the database a password from a Docker secret (e.g. POSTGRES_PASSWORD_FILE) "
    "and remove the trust/empty-password switch",
    example="""
    services:
      db:
        image: "postgres:17.4"
        environment: {POSTGRES_HOST_AUTH_METHOD: trust}
        ports: ["5432:5432"]
    """,
    fixed="""
    services:
      db:
        image: "postgres:17.4"
        environment: {POSTGRES_PASSWORD_FILE: /run/secrets/db_password}
        secrets: [db_password]
    secrets:
      db_password: {file: ./secrets/db_password}
    """,
)
def database_without_authentication(stack: Stack) -> Iterator[Hit]:
    """A database that accepts connections without a password:
    ``POSTGRES_HOST_AUTH_METHOD=trust`` (or ``--auth=trust`` in
    ``POSTGRES_INITDB_ARGS``), PgBouncer's ``AUTH_TYPE=trust``,
    ``MYSQL_ALLOW_EMPTY_PASSWORD`` / ``MARIADB_ALLOW_EMPTY_ROOT_PASSWORD`` without a
    root password (any non-empty value enables them, even ``no``), Bitnami's
    ``ALLOW_EMPTY_PASSWORD=yes``, ``NEO4J_AUTH=none``, ``--skip-grant-tables`` or
    ``--noauth``. Critical when a port is published beyond loopback (anyone who
    reaches the host is the database superuser, which often means running
    programs: ``COPY ... FROM PROGRAM``); high otherwise, because every container
    on its network, and any one that is compromised, is superuser too.
    """
    for name, spec in stack.services.items():
        exposed = reach(spec) == "network"
        for switch in switched_off(spec, DATABASE_SWITCHES):
            yield Hit(
                name,
                f"{switch.effect} ({_where(switch)})"
                + (" and a port is published beyond loopback" if exposed else ""),
                subject=switch.key,
                severity=Severity.CRITICAL if exposed else None,
            )


@rule(
    "AUTH-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no search engine or datastore published with its security switched off",
    hint="keep the security plugin on (with its password from a Docker secret), "
    "or stop publishing the port and reach it through the network",
    example="""
    services:
      search:
        image: "elasticsearch:8.17.1"
        environment: [discovery.type=single-node, xpack.security.enabled=false]
        ports: ["9200:9200"]
    """,
    fixed="""
    services:
      search:
        image: "elasticsearch:8.17.1"
        environment: [discovery.type=single-node, xpack.security.enabled=false]
        expose: ["9200"]
    """,
)
def published_without_security(stack: Stack) -> Iterator[Hit]:
    """A search engine or datastore whose security is switched off must not publish a
    port: Elasticsearch's ``xpack.security.enabled=false`` (environment or
    ``-E``), OpenSearch's ``plugins.security.disabled=true`` or
    ``DISABLE_SECURITY_PLUGIN=true`` (and the Dashboards one), Redis/Valkey
    ``--protected-mode no`` without ``--requirepass``. Published beyond loopback
    this is critical (anyone who reaches the host reads, changes and deletes every
    index); on loopback high (every local user and process, and a browser page
    through DNS rebinding). Inside the network only, it is left to the team.
    """
    for name, spec in stack.services.items():
        how_far = reach(spec)
        if how_far == "internal":
            continue
        for switch in switched_off(spec, SEARCH_SWITCHES):
            on = "beyond loopback" if how_far == "network" else "on loopback"
            yield Hit(
                name,
                f"{switch.effect} ({_where(switch)}) and a port is published {on}",
                subject=switch.key,
                severity=Severity.CRITICAL if how_far == "network" else None,
            )
