"""Plain text: tables, short lists and the progress lines commands print on stderr.

Every string a project controls (service, image, env key, volume target,
profile name, compose's own messages about them) can reach the terminal
through here, so each path makes it inert first: a control character would
otherwise move the cursor, set the window title or, with OSC 52, write to the
clipboard of whoever reads the report.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

# C0 except tab and newline, DEL and C1: escaping ESC (and CSI, 0x9b) makes every
# escape sequence plain text, since what follows it is printable.
# Bidi overrides and isolates, and the Unicode line and paragraph separators, too: they
# reorder or split what the reader sees without any escape byte ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def inert(text: str) -> str:
    """``text`` with every terminal control character shown as ``\\xNN`` (``\\uNNNN``
    for the bidi and separator characters).

    Tab and newline stay (the formats here allow them); escaping is idempotent,
    since its output holds no control character.
    """
    return _CONTROL.sub(_escaped, text)


def say(message: str) -> None:
    """Progress and notices go to stderr, so stdout stays the report."""
    print(inert(message), file=sys.stderr, flush=True)


def short_list(items: Sequence[str], limit: int = 4) -> str:
    """``a, b, c, d and 3 more``: lists in one-line messages stay one line."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def _cell(value: Any) -> Any:
    # Numbers and None keep tabulate's own rendering; anything else is text.
    return value if value is None or isinstance(value, int | float) else inert(str(value))


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    from tabulate import tabulate  # costs ~50 ms (importlib.metadata); only tables need it

    cells = [[_cell(cell) for cell in row] for row in rows]
    return tabulate(
        cells, headers=[inert(h) for h in headers], tablefmt="simple", disable_numparse=True
    )
