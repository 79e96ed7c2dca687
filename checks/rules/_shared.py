"""Small helpers shared by several rules."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from checks.stack import Stack

CREDENTIAL_KEY_RE = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|"
    r"ENCRYPTION_?KEY|AUTH_?KEY|CLIENT_?SECRET|DSN)",
    re.IGNORECASE,
)


# Values that switch a credential feature on or off (MYSQL_RANDOM_ROOT_PASSWORD=yes,
# PASSWORD_RESET_ENABLED=false): a setting about a credential, never one itself.
SWITCH_VALUES = frozenset({"yes", "no", "true", "false", "on", "off", "0", "1"})


def is_credential_key(key: str) -> bool:
    return bool(CREDENTIAL_KEY_RE.search(key)) and not key.upper().endswith("_FILE")


def is_switch(value: str | None) -> bool:
    """A yes/no, true/false, on/off or 0/1 value: it sets something, it is no secret."""
    return value is not None and value.strip().lower() in SWITCH_VALUES


# Restart policies of a container that is meant to exit: compose's default "no", and
# "on-failure" (retry a failed job, never restart a finished one). Swarm's spelling too.
ONE_SHOT_RESTARTS = {"no", "false", "none", "on-failure"}
# Service-name words that say "a task that runs once": migrations, seeding, setup.
JOB_NAME_WORDS = frozenset(
    {
        "migrate",
        "migrations",
        "migration",
        "migrator",
        "init",
        "setup",
        "seed",
        "seeder",
        "bootstrap",
        "provision",
        "createbuckets",
        "buckets",
        "certs",
        "certgen",
        "oneshot",
        "job",
    }
)


def restart_policy(spec: Mapping[str, Any]) -> str:
    """The restart condition, ``restart:`` first, else ``deploy.restart_policy``; "no"
    when neither is set (compose's default). ``on-failure:3`` reads as ``on-failure``."""
    restart = spec.get("restart")
    if restart is None:
        deploy = spec.get("deploy")
        policy = deploy.get("restart_policy") if isinstance(deploy, Mapping) else None
        restart = policy.get("condition") if isinstance(policy, Mapping) else None
    return str("no" if restart is None else restart).lower().split(":", 1)[0]


def is_one_shot_job(stack: Stack, name: str) -> bool:
    """A job runs to completion and exits, so it needs no healthcheck or long-run limits.

    Its restart policy lets it exit (none, ``no`` or ``on-failure``) and either some
    dependant waits for it with ``service_completed_successfully``, or its shape says
    so on its own: a name made of job words (``migrate``, ``db-init``,
    ``createbuckets``) and no published port (a server publishes one).
    """
    spec = stack.services.get(name)
    if not isinstance(spec, Mapping) or restart_policy(spec) not in ONE_SHOT_RESTARTS:
        return False
    if name in stack.awaited_to_complete:
        return True
    words = set(re.split(r"[-_.]+", name.lower()))
    return bool(words & JOB_NAME_WORDS) and not spec.get("ports")


def environment(spec: Mapping[str, Any]) -> dict[str, str | None]:
    env = spec.get("environment") or {}
    if isinstance(env, list):  # tolerate the list form in hand-written models
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return {str(k): (None if v is None else str(v)) for k, v in env.items()}


def words_of(spec: Mapping[str, Any], key: str) -> list[str]:
    """A list-valued key as strings; compose renders lists, hand-written models may not."""
    value = spec.get(key)
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError:
            return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def healthcheck_test(spec: Mapping[str, Any]) -> list[str]:
    """The healthcheck's test as ``[kind, *args]`` (a string is ``CMD-SHELL``); [] when disabled."""
    check = spec.get("healthcheck") or {}
    if check.get("disable") is True:
        return []
    test = check.get("test") or []
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(part) for part in test]
