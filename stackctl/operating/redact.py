"""Redaction: secret values never reach any output of these tools.

A careless service may log a secret encoded rather than raw, so each value is
also masked in the encodings services commonly use:

- base64 and base64url, with and without padding, and embedded in a longer
  encoded string at any offset (``Basic`` auth of ``user:secret``): each of the
  three byte alignments gives a run of characters that depends on the secret
  alone, and that run is masked;
- the same base64 and hex (``xxd -p``) wrapped across lines at any column:
  every run of at least ``MIN_SPLIT_RUN`` characters of an encoded form is
  masked wherever it stands, an encoded blob that ends its line with the first
  ``MIN_LENGTH`` or more characters of a form is masked to its end, and the line
  after a masked line end is masked where the form goes on (to its last
  character); at most ``MIN_LENGTH - 1`` characters of a form cut at a line end
  can stay visible, as for a value that short anywhere;
- URL encoding (``%20`` and ``+`` for spaces, either hex case), hex (either
  case) and JSON string escaping (``\\u0026``, ``\\/``, ASCII-only or not).

A value shorter than ``MIN_LENGTH`` characters cannot be masked without
masking ordinary words too: it is left alone, and a one-line warning on stderr
says so (naming the file, never the value).
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

from stackctl.console import say

MASK = "[REDACTED]"
MIN_LENGTH = 4  # shorter values would mask ordinary words
MIN_SPLIT_RUN = 8  # a run this long of an encoded form is masked anywhere in a line
MAX_SECRET_BYTES = 1 << 20  # a secret file larger than this is not a secret value
MAX_SPLIT_FORM = 16384  # longer forms are masked whole and by their lines, not split
# Characters of base64, base64url and hex: a wrapped form is a run of these.
_ENCODED_RUN = re.compile(r"[A-Za-z0-9+/_-]+")
_JSON_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-f]{4})")


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


def too_short(value: str) -> bool:
    """A value that holds something but too little to be masked safely."""
    return 0 < len(value.strip()) < MIN_LENGTH


def base64_cores(raw: bytes) -> set[str]:
    """The base64 and base64url characters that ``raw`` alone decides, at each alignment.

    Embedded after ``offset`` other bytes, ``raw`` starts ``offset`` bytes into a
    3-byte group; the characters wholly inside its bits are the same whatever
    comes before or after, so masking them hides ``raw`` at any prefix length.
    """
    cores: set[str] = set()
    for offset in range(3):
        first = -(-8 * offset // 6)  # the first character after the prefix's bits
        last = 8 * (offset + len(raw)) // 6  # one past the last one inside raw's bits
        padded = bytes(offset) + raw
        for encoded in (base64.b64encode(padded), base64.urlsafe_b64encode(padded)):
            cores.add(encoded.decode()[first:last])
    return cores


def json_escapes(value: str) -> set[str]:
    """``value`` as JSON encoders write it inside a string, without the quotes.

    ASCII-only or not, with ``<>&`` as ``\\u003c`` (Go's default), ``/`` as
    ``\\/`` (PHP's), and ``\\uXXXX`` in either hex case.
    """
    forms: set[str] = set()
    for ascii_only in (True, False):
        plain = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        html = plain.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        # Go escapes U+2028 and U+2029 even when it keeps other characters as they are.
        go = html.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        for text in (plain, html, go):
            for slashed in (text, text.replace("/", "\\/")):
                upper = _JSON_UNICODE_ESCAPE.sub(lambda m: "\\u" + m.group(1).upper(), slashed)
                forms.update({slashed, upper})
    return forms


def dense_forms(value: str) -> set[str]:
    """The forms that tools wrap across lines: base64 (each alignment) and hex."""
    raw = value.encode("utf-8")
    return {*base64_cores(raw), raw.hex(), raw.hex().upper()}


def encoded_forms(value: str) -> set[str]:
    """``value`` and every encoded form of it that a log line could carry."""
    raw = value.encode("utf-8")
    forms = {value, *dense_forms(value), *json_escapes(value)}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms.update({encoded, encoded.rstrip("=")})
    for url in (quote(value, safe=""), quote_plus(value, safe="")):
        forms.update({url, _lower_percent_escapes(url)})
    return {form for form in forms if len(form) >= MIN_LENGTH}


def _lower_percent_escapes(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])


def _pieces(values: Iterable[str]) -> set[str]:
    """Each value, each of its lines, and the value of each ``key = value`` line."""
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
    return plain


class _SplitForms:
    """Finds encoded forms cut by line breaks, one line at a time.

    ``carry`` holds where each form stopped at the end of the previous line,
    so the line after it is masked where the form goes on.
    """

    def __init__(self, forms: Iterable[str]) -> None:
        self.forms = sorted(f for f in forms if MIN_LENGTH <= len(f) <= MAX_SPLIT_FORM)
        self.windows: dict[str, list[tuple[int, int]]] = {}
        self.heads: dict[str, int] = {}  # a form's first characters -> the form
        for index, form in enumerate(self.forms):
            for start in range(len(form) - MIN_SPLIT_RUN + 1):
                self.windows.setdefault(form[start : start + MIN_SPLIT_RUN], []).append(
                    (index, start)
                )
            for size in range(MIN_LENGTH, min(MIN_SPLIT_RUN, len(form))):
                self.heads.setdefault(form[:size], index)
        self.carry: set[tuple[int, int]] = set()

    def _common(self, line: str, at: int, index: int, start: int) -> int:
        """How many characters from ``line[at]`` on follow ``forms[index][start:]``."""
        form = self.forms[index]
        length = 0
        while (
            at + length < len(line)
            and start + length < len(form)
            and line[at + length] == form[start + length]
        ):
            length += 1
        return length

    def spans(self, line: str) -> list[tuple[int, int]]:
        end = len(line.rstrip())
        runs = [(m.start(), m.end()) for m in _ENCODED_RUN.finditer(line, 0, end)]
        found: list[tuple[int, int]] = []
        carry: set[tuple[int, int]] = set()

        def take(at: int, length: int, index: int, start: int) -> None:
            found.append((at, at + length))
            if at + length == end and start + length < len(self.forms[index]):
                carry.add((index, start + length))

        # Where the previous line left a form unfinished: the first run going on with it
        # (for MIN_LENGTH characters at least, or to the form's end).
        for index, start in self.carry:
            rest = len(self.forms[index]) - start
            for run_start, _ in runs:
                length = self._common(line, run_start, index, start)
                if length >= min(MIN_LENGTH, rest):
                    take(run_start, length, index, start)
                    break
        # Any long enough run of a form, wherever it stands.
        at = 0
        while at + MIN_SPLIT_RUN <= end:
            hits = self.windows.get(line[at : at + MIN_SPLIT_RUN])
            if not hits:
                at += 1
                continue
            length, index, start = max((self._common(line, at, i, s), i, s) for i, s in hits)
            take(at, length, index, start)
            at += length
        # A blob that ends the line with a form's first characters: the form goes on below.
        if runs and runs[-1][1] == end and runs[-1][1] - runs[-1][0] >= MIN_SPLIT_RUN:
            for size in range(MIN_SPLIT_RUN - 1, MIN_LENGTH - 1, -1):
                index = self.heads.get(line[end - size : end], -1)
                if index >= 0:
                    take(end - size, size, index, 0)
                    break
        self.carry = carry
        return found


def _masked(line: str, spans: list[tuple[int, int]]) -> str:
    """``line`` with every span (merged where they touch) replaced by one mask."""
    merged: list[list[int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    parts: list[str] = []
    done = 0
    for start, stop in merged:
        parts += [line[done:start], MASK]
        done = stop
    return "".join(parts) + line[done:]


def _lines(text: str) -> Iterator[str]:
    yield from text.splitlines(keepends=True) or [text]


class Redactor:
    """Replaces every known secret value (and each line of multi-line secrets).

    Lines are remembered from one call to the next, so a stream redacted a line
    at a time (``logs --follow``) is masked like the same text in one call.
    """

    def __init__(
        self, values: Iterable[str] = (), *, warn: Callable[[str], None] | None = say
    ) -> None:
        values = list(values)
        short = sum(1 for value in values if too_short(value))
        if short and warn is not None:
            warn(
                f"warning: {short} secret value(s) shorter than {MIN_LENGTH} characters"
                " cannot be masked in output; use longer secrets"
            )
        plain = _pieces(values)
        pieces: set[str] = set()
        for piece in plain:
            pieces |= encoded_forms(piece)
        # Longest first, so a value containing another is masked whole.
        self._pieces = sorted(pieces, key=len, reverse=True)
        self._split = _SplitForms(form for piece in plain for form in dense_forms(piece))

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> Redactor:
        values: list[str] = []
        short: list[str] = []
        unreadable: list[str] = []
        for path in paths:
            value = read_secret(path)
            if value is not None:
                values.append(value)
                if too_short(value):
                    short.append(path.name)
            elif path.exists() or path.is_symlink():
                unreadable.append(path.name)  # a FIFO, a folder, no permission: not masked
        if unreadable:
            say(
                f"warning: secret(s) {', '.join(sorted(unreadable))} are not readable regular"
                " files, so their values cannot be masked in output; run secrets.scaffold --check"
            )
        if short:
            say(
                f"warning: secret(s) {', '.join(sorted(short))} hold fewer than {MIN_LENGTH}"
                " characters and cannot be masked in output; rotate them to longer values"
            )
        return cls(values, warn=None)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            if piece in text:
                text = text.replace(piece, MASK)
        if not self._split.forms:
            return text
        return "".join(_masked(line, self._split.spans(line)) for line in _lines(text))
