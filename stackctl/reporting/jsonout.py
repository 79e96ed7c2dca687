"""JSON: every command's result in one envelope with a schema version and the tool version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

# Bump when a key is renamed or removed; adding keys keeps the version.
SCHEMA_VERSION = 2  # 2: verify findings use the keys of every other finding (rule, source)
TOOL_NAME = "stackctl"
DISTRIBUTION = "platform-stack"


@cache
def tool_version() -> str:
    """The installed package's version, from its metadata (never a literal in code)."""
    from importlib import metadata  # ~25 ms to import: only JSON reports need it

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def to_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n"


def envelope(command: str, exit_code: int, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version()},
        "command": command,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        **data,
    }
