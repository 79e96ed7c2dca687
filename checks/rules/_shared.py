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


def is_credential_key(key: str) -> bool:
    return bool(CREDENTIAL_KEY_RE.search(key)) and not key.upper().endswith("_FILE")


def is_one_shot_job(stack: Stack, name: str) -> bool:
    """A job never restarts and some dependant waits for it to complete successfully."""
    spec = stack.services.get(name) or {}
    if str(spec.get("restart", "no")) not in {"no", "False", "false"}:
        return False
    return name in stack.awaited_to_complete


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
