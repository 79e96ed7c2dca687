"""The containers compose knows for a selection (``compose ps --all --format json``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stackctl.errors import StackError
from stackctl.project.compose import Compose, first_error_line


def parse_ps(stdout: str) -> list[dict[str, Any]]:
    """`compose ps --format json` prints an array (old) or one object per line (new)."""
    text = stdout.strip()
    if not text:
        return []
    if text.startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def containers(compose: Compose, profiles: Sequence[str]) -> list[dict[str, Any]]:
    done = compose.run(["ps", "--all", "--format", "json"], profiles)
    if done.returncode != 0:
        raise StackError(f"compose ps failed: {first_error_line(done.stderr)}")
    return parse_ps(done.stdout)
