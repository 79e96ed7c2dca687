"""REQ-SPC-OPT-004: secrets only as files mounted from Docker secrets."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from checks.finding import Hit, Severity
from checks.rule import rule
from checks.rules._as_written import filled_at_run_time, written_environment, written_field
from checks.rules._shared import environment, is_credential_key, is_switch
from checks.stack import Stack

REQ = "REQ-SPC-OPT-004"
SECRETS_DIR = "/run/secrets/"
# A credential filled from the host environment at run time is not written in any
# file, but it still lands in the container's environment (``docker inspect``).
RUN_TIME = Severity.MEDIUM
RUN_TIME_NOTE = "is filled from the host environment at run time"


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
    example="""
    services:
      db: {image: "postgres:17.4", environment: {POSTGRES_PASSWORD: hunter2}}
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
def credential_values(stack: Stack) -> Iterator[Hit]:
    """A credential-shaped key (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``, ``*API_KEY*``, ...)
    never carries a value in ``environment``. A value written in a compose file
    (``$$`` escapes and ``${VAR:-default}`` defaults included) or loaded from an
    ``env_file`` is a literal: critical. A value the files leave to the host
    environment (``KEY:``, ``KEY`` in list form, ``${VAR}``) is filled at run time:
    no file holds it, but it still reaches the container's environment, so it is
    reported at medium. A switch (``yes``/``no``, ``true``/``false``, ``on``/``off``,
    ``0``/``1``, as in ``MYSQL_RANDOM_ROOT_PASSWORD=yes``) sets a credential feature
    and is no credential. Values are never printed.
    """
    for name, spec in stack.services.items():
        written = written_environment(stack, name)
        for key, value in environment(spec).items():
            if not is_credential_key(key) or value == "" or is_switch(value):
                continue
            if key in written and filled_at_run_time(written[key]):
                yield Hit(name, f"environment key {key} {RUN_TIME_NOTE}", key, RUN_TIME)
            else:
                yield Hit(name, f"environment key {key} carries a value", subject=key)


@rule(
    "SECRET-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="*_FILE points to a secret the service mounts",
    hint="add the secret to the service's secrets: list and point *_FILE at /run/secrets/<name>",
    example="""
    services:
      db:
        image: "postgres:17.4"
        environment: {POSTGRES_PASSWORD_FILE: /run/secrets/db_password}
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
    scope="project",
    severity=Severity.HIGH,
    title="top-level secrets are file-based",
    hint="declare the secret with file: ./secrets/<name>",
    example="""
    services:
      db: {image: "postgres:17.4", secrets: [db_password]}
    secrets:
      db_password: {environment: DB_PASSWORD}
    """,
    fixed="""
    services:
      db: {image: "postgres:17.4", secrets: [db_password]}
    secrets:
      db_password: {file: ./secrets/db_password}
    """,
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
    example="""
    services:
      db: {image: "postgres:17.4", secrets: [db_password]}
    # no top-level secrets: declaration
    """,
    fixed="""
    services:
      db: {image: "postgres:17.4", secrets: [db_password]}
    secrets:
      db_password: {file: ./secrets/db_password}
    """,
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
    scope="project",
    severity=Severity.LOW,
    title="no declared but unused secrets",
    hint="remove the declaration, or mount the secret where it is needed",
    example="""
    services:
      db: {image: "postgres:17.4", secrets: [db_password]}
    secrets:
      db_password: {file: ./secrets/db_password}
      old_token: {file: ./secrets/old_token}
    """,
    fixed="""
    services:
      db: {image: "postgres:17.4", secrets: [db_password]}
    secrets:
      db_password: {file: ./secrets/db_password}
    """,
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


# Options whose value is a credential: --password=x, --token x, --requirepass x, ...
CREDENTIAL_OPTION_RE = re.compile(
    r"^-{1,2}(?:[\w-]*[-_])?(password|passwd|pass|pwd|secret|token|api[-_]?key|access[-_]?key|"
    r"secret[-_]?key|private[-_]?key|credentials?|requirepass|masterauth)$",
    re.IGNORECASE,
)
# Short flags that take a password for well-known clients: mysql -pX, redis-cli -a X, ...
SHORT_PASSWORD_FLAGS = {
    "mysql": "-p",
    "mysqladmin": "-p",
    "mysqldump": "-p",
    "mariadb": "-p",
    "mariadb-admin": "-p",
    "redis-cli": "-a",
    "valkey-cli": "-a",
    "sshpass": "-p",
}
ATTACHED_ONLY = {"mysql", "mysqladmin", "mysqldump", "mariadb", "mariadb-admin"}  # -p alone prompts
# scheme://user:password@host: the password half, up to the @ that ends the userinfo.
URL_PASSWORD_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:(?P<password>[^/\s@]*)@")
RUNTIME_REFERENCE_RE = re.compile(r"^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}?|\$\(.*\))+$")


def is_literal(value: str) -> bool:
    """A value written out, not a reference resolved at run time (``$VAR``, ``$(cat f)``)
    and not a path under /run/secrets. The rendered model keeps compose's ``$$``
    escape, which is what reaches the container as ``$``."""
    value = value.strip().strip("'\"").replace("$$", "$")
    return bool(value) and not (
        RUNTIME_REFERENCE_RE.fullmatch(value) or value.startswith(SECRETS_DIR)
    )


def url_with_password(value: str) -> bool:
    return any(is_literal(m["password"]) for m in URL_PASSWORD_RE.finditer(value))


@lru_cache(maxsize=4096)
def _shell_words(text: str) -> tuple[str, ...]:
    # once per string per run: every selection a service is in asks again
    try:
        return tuple(shlex.split(text))
    except ValueError:  # unbalanced quotes: still look at the words
        return tuple(text.split())


def argument_tokens(arguments: Any) -> list[str]:
    """The words of a command: list items, with shell strings (``sh -c "..."``) split."""
    items = [arguments] if isinstance(arguments, str) else list(arguments or [])
    tokens: list[str] = []
    for item in items:
        text = str(item)
        if any(c.isspace() for c in text):
            tokens.extend(_shell_words(text))
        else:
            tokens.append(text)
    return tokens


def credential_arguments(tokens: list[str]) -> Iterator[str]:
    """The name of each credential passed literally in ``tokens`` (never the value)."""
    program = ""
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        base = token.rsplit("/", 1)[-1]
        if base in SHORT_PASSWORD_FLAGS:
            program = base
        option, equals, value = token.partition("=")
        if CREDENTIAL_OPTION_RE.match(option) and not option.startswith("--no-"):
            if (equals and is_literal(value)) or (
                not equals and not following.startswith("-") and is_literal(following)
            ):
                yield option
            continue
        if equals and not option.startswith("-") and re.fullmatch(r"[A-Za-z_]\w*", option):
            if is_credential_key(option) and is_literal(value):
                yield option  # PASSWORD=x some-command
            continue
        flag = SHORT_PASSWORD_FLAGS.get(program)
        if flag and token.startswith(flag) and token != flag and is_literal(token[len(flag) :]):
            yield flag  # mysql -pSECRET
        elif flag and token == flag and program not in ATTACHED_ONLY and is_literal(following):
            yield flag  # redis-cli -a SECRET
        if url_with_password(token):
            yield "a URL with user:password@"


def _commands(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "command", spec.get("command")
    yield "entrypoint", spec.get("entrypoint")
    check = spec.get("healthcheck")
    test = check.get("test") if isinstance(check, Mapping) else None
    if isinstance(test, list) and test[:1] in (["CMD"], ["CMD-SHELL"]):
        test = test[1:]
    yield "healthcheck", test


def _written_commands(stack: Stack, name: str) -> dict[str, Any]:
    """The same fields as the files write them, before variables are filled in."""
    written = {field: written_field(stack, name, field) for field in ("command", "entrypoint")}
    written["healthcheck"] = written_field(stack, name, "healthcheck")
    return dict(_commands(written))


@rule(
    "SECRET-006",
    requirement=REQ,
    severity=Severity.CRITICAL,
    title="no credentials as literal arguments",
    hint="read the secret from /run/secrets/<name> at run time (e.g. --password-file, "
    "or $(cat /run/secrets/<name>) in a shell)",
    example="""
    services:
      cache:
        image: valkey/valkey:8.0.2
        command: ["valkey-server", "--requirepass", "hunter2"]
    """,
    fixed="""
    services:
      cache:
        image: valkey/valkey:8.0.2
        command: [sh, -c, 'exec valkey-server --requirepass "$$(cat /run/secrets/cache)"']
        secrets: [cache]
    secrets:
      cache: {file: ./secrets/cache}
    """,
)
def credential_arguments_in_commands(stack: Stack) -> Iterator[Hit]:
    """``command``, ``entrypoint`` and ``healthcheck.test`` pass no credential literally:
    no ``--password=x`` or ``--token x`` (any credential-shaped option), no
    ``PASSWORD=x cmd`` assignment, no ``mysql -px`` / ``redis-cli -a x``, and no URL
    with ``user:password@``. Arguments are visible to anyone who can run
    ``docker inspect`` or ``ps``. Shell strings (``sh -c "..."``) are split into words.
    References resolved at run time (``$$VAR``, ``$$(cat /run/secrets/x)``) and paths
    under /run/secrets are fine. A credential compose fills in from the host
    environment (``--password=${PW}``) is in no file: medium, as for SECRET-001.
    Values are never printed."""
    for name, spec in stack.services.items():
        written = _written_commands(stack, name)
        for field, arguments in _commands(spec):
            in_file = set(credential_arguments(argument_tokens(written.get(field))))
            for option in dict.fromkeys(credential_arguments(argument_tokens(arguments))):
                subject = f"{field}:{option}"
                if written.get(field) is not None and option not in in_file:
                    yield Hit(
                        name, f"{field} passes a credential that {RUN_TIME_NOTE}", subject, RUN_TIME
                    )
                else:
                    yield Hit(name, f"{field} passes a credential literally ({option})", subject)


@rule(
    "SECRET-007",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no passwords inside connection strings",
    hint="pass the password separately from a secret file (e.g. *_PASSWORD_FILE) "
    "and keep the URL without user:password@",
    example="""
    services:
      app:
        image: example/app:1.4.2
        environment:
          DATABASE_URL: postgresql://app:hunter2@postgres:5432/app
    """,
    fixed="""
    services:
      app:
        image: example/app:1.4.2
        environment:
          DATABASE_URL: postgresql://app@postgres:5432/app
          DATABASE_PASSWORD_FILE: /run/secrets/app_db_password
        secrets: [app_db_password]
    secrets:
      app_db_password: {file: ./secrets/app_db_password}
    """,
)
def connection_string_passwords(stack: Stack) -> Iterator[Hit]:
    """An ``environment`` value of any key holds no ``scheme://user:password@host`` with a
    literal password (SECRET-001 already covers credential-shaped keys). A password
    made only of references resolved at run time is fine; one compose fills in from
    the host environment (``user:${PW}@``) is in no file: medium, as for SECRET-001.
    Values are never printed."""
    for name, spec in stack.services.items():
        written = written_environment(stack, name)
        for key, value in environment(spec).items():
            if not value or is_credential_key(key) or not url_with_password(value):
                continue
            as_written = written.get(key)
            if key in written and not (as_written and url_with_password(as_written)):
                yield Hit(
                    name,
                    f"environment key {key} has a password that {RUN_TIME_NOTE}",
                    key,
                    RUN_TIME,
                )
            else:
                yield Hit(name, f"environment key {key} embeds a password in a URL", subject=key)
