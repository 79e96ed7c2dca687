"""Redaction: secret values never reach any output of these tools.

A careless service may log a secret encoded rather than raw, so each value is
also masked in the encodings services commonly use: base64 and base64url (with
and without padding), URL encoding (``%20`` and ``+`` for spaces, either hex
case) and hex (either case).
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

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


def encoded_forms(value: str) -> set[str]:
    """``value`` and every encoded form of it that a log line could carry."""
    raw = value.encode("utf-8")
    forms = {value}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms.update({encoded, encoded.rstrip("=")})
    for url in (quote(value, safe=""), quote_plus(value, safe="")):
        forms.update({url, _lower_percent_escapes(url)})
    forms.update({raw.hex(), raw.hex().upper()})
    return {form for form in forms if len(form) >= MIN_LENGTH}


def _lower_percent_escapes(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])


class Redactor:
    """Replaces every known secret value (and each line of multi-line secrets)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        plain: set[str] = set()
        for value in values:
            for piece in [value, *value.splitlines()]:
                piece = piece.strip()
                if len(piece) >= MIN_LENGTH:
                    plain.add(piece)
                    # "key = value" lines (e.g. rabbitmq-conf) also hide the bare value
                    _, sep, tail = piece.partition("=")
                    if sep and len(tail.strip()) >= MIN_LENGTH:
                        plain.add(tail.strip())
        pieces: set[str] = set()
        for piece in plain:
            pieces |= encoded_forms(piece)
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
