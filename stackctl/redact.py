"""Redaction: secret values never reach any output of these tools."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

MASK = "[REDACTED]"
MIN_LENGTH = 4  # shorter values would mask ordinary words
MAX_SECRET_BYTES = 1 << 20  # a secret file larger than this is not a secret value


def read_secret(path: Path) -> str | None:
    """The value of a regular secret file; None for anything else. Never blocks.

    O_NONBLOCK keeps a FIFO from hanging the open, and fstat on the opened
    descriptor decides (no race with a swapped path). A symlink is followed:
    compose mounts its target, so its value must be masked too.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, MAX_SECRET_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


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
        return cls(value for value in map(read_secret, paths) if value is not None)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            if piece in text:
                text = text.replace(piece, MASK)
        return text
