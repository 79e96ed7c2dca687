"""The result of one preflight step, whichever module checks it (preflight, Loki)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepResult:
    name: str
    ok: bool
    detail: str
    hint: str = ""
