"""Resource limits as a rendered service declares them, and the sizes they are written in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# The keys compose accepts outside ``deploy`` for the same limits.
LEGACY_KEYS = {"memory": "mem_limit", "cpus": "cpus", "pids": "pids_limit"}
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", re.IGNORECASE)


def parse_size(value: Any) -> int | None:
    """``"32M"``, ``"1gb"``, ``"33554432"`` or ``33554432`` -> bytes; None when unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE_RE.fullmatch(str(value))
    if not match:
        return None
    number, unit = match.groups()
    return int(float(number) * 1024 ** "bkmgt".index(unit.lower() or "b"))


def deploy_limit(spec: Mapping[str, Any], key: str) -> Any:
    """``deploy.resources.limits.<key>`` of a rendered service, or None."""
    limits = ((spec.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    return limits.get(key)


def declared_limit(spec: Mapping[str, Any], key: str) -> Any:
    """The limit compose applies: ``deploy.resources.limits`` first, else the legacy key."""
    value = deploy_limit(spec, key)
    return value if value not in (None, "") else spec.get(LEGACY_KEYS[key])
