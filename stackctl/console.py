"""Plain text: tables, short lists and the progress lines commands print on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate


def say(message: str) -> None:
    """Progress and notices go to stderr, so stdout stays the report."""
    print(message, file=sys.stderr, flush=True)


def short_list(items: Sequence[str], limit: int = 4) -> str:
    """``a, b, c, d and 3 more``: lists in one-line messages stay one line."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    return tabulate(list(rows), headers=list(headers), tablefmt="simple", disable_numparse=True)
