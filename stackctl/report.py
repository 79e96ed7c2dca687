"""Compatibility: the reporting API under its old module name (use ``stackctl.reporting``)."""

from __future__ import annotations

from stackctl.reporting import Case, emit, junit, sarif, say, short_list, table, to_json
from stackctl.reporting.findings import (
    findings_sarif,
    findings_table,
    traceability_table,
)

__all__ = [
    "Case",
    "emit",
    "findings_sarif",
    "findings_table",
    "junit",
    "sarif",
    "say",
    "short_list",
    "table",
    "to_json",
    "traceability_table",
]
