"""SARIF 2.1.0: the log format code-scanning dashboards read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stackctl.reporting.jsonout import tool_version

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}


def sarif(
    tool_name: str,
    rules: Sequence[dict[str, Any]],
    results: Sequence[dict[str, Any]],
    *,
    information_uri: str | None = None,
) -> str:
    """A SARIF 2.1.0 log. ``rules`` and ``results`` are already SARIF-shaped dicts."""
    driver: dict[str, Any] = {"name": tool_name, "version": tool_version(), "rules": list(rules)}
    if information_uri:
        driver["informationUri"] = information_uri
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "results": list(results),
                "columnKind": "utf16CodeUnits",
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
