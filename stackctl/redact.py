"""Redaction: secret values never reach any output of these tools."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

MASK = "[REDACTED]"
MIN_LENGTH = 4  # shorter values would mask ordinary words


class Redactor:
    """Replaces every known secret value (and each line of multi-line secrets)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        pieces: set[str] = set()
        for value in values:
            for piece in [value, *value.splitlines()]:
                piece = piece.strip()
                if len(piece) >= MIN_LENGTH:
                    pieces.add(piece)
                    # "key = value" lines (e.g. rabbitmq-conf) also hide the bare value
                    _, sep, tail = piece.partition("=")
                    if sep and len(tail.strip()) >= MIN_LENGTH:
                        pieces.add(tail.strip())
        # Longest first, so a value containing another is masked whole.
        self._pieces = sorted(pieces, key=len, reverse=True)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> Redactor:
        values = []
        for path in paths:
            try:
                values.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
        return cls(values)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            if piece in text:
                text = text.replace(piece, MASK)
        return text
