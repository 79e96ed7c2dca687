"""Redaction holds for the encodings tools write: wrapped, embedded, JSON-escaped, short.

Every secret here is generated, and no assertion shows one: each check is a
boolean computed first, so a failing test names the encoding, never the value.
"""

from __future__ import annotations

import base64
import json
import secrets as random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from stackctl.operating.redact import MASK, MIN_LENGTH, Redactor, base64_cores, dense_forms

LOG_PREFIX = "leaky-1  | "


def generated(size: int) -> str:
    """A fresh secret of ``size`` characters (letters, digits, ``-`` and ``_``)."""
    return random.token_urlsafe(size)[:size]


def longest_survivor(text: str, forms: set[str]) -> int:
    """The longest run of any form's characters still standing in one line of ``text``."""
    longest = 0
    for line in text.splitlines():
        for form in forms:
            size = longest + 1
            while size <= len(form) and any(
                form[start : start + size] in line for start in range(len(form) - size + 1)
            ):
                longest, size = size, size + 1
    return longest


def tool(argv: list[str], data: bytes, fallback: Callable[[bytes], str]) -> str:
    """The real tool's output when it is installed, else the same output made here."""
    if shutil.which(argv[0]) is None:
        return fallback(data)
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout.decode()


def coreutils_base64(data: bytes) -> str:
    return tool(["base64"], data, lambda d: base64.encodebytes(d).decode())  # 76 columns


def xxd_plain(data: bytes) -> str:
    def wrapped(d: bytes) -> str:
        text = d.hex()
        return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))

    return tool(["xxd", "-p"], data, wrapped)


def streamed(redact: Redactor, text: str) -> str:
    """``logs --follow``: one call per line, each with compose's service prefix."""
    return "".join(redact(LOG_PREFIX + line + "\n") for line in text.splitlines())


def masked_enough(secret: str, text: str, redact: Redactor) -> bool:
    """No run of MIN_LENGTH characters that the secret alone decides survives."""
    return longest_survivor(redact(text), dense_forms(secret)) < MIN_LENGTH


@pytest.mark.parametrize("size", [4, 16, 57, 100, 300])
@pytest.mark.parametrize("newline", ["", "\n"], ids=["printf", "echo"])
def test_coreutils_base64_wrapped_at_76_is_masked(size: int, newline: str) -> None:
    secret = generated(size)
    encoded = coreutils_base64((secret + newline).encode())
    assert size <= 57 or encoded.count("\n") > 1, "the output is wrapped"
    whole = masked_enough(secret, encoded, Redactor([secret]))
    by_line = masked_enough(secret, streamed(Redactor([secret]), encoded), Redactor([]))
    assert whole, "base64 -w 76 in one text"
    assert by_line, "base64 -w 76 streamed a line at a time"


@pytest.mark.parametrize("size", [8, 30, 31, 90])
def test_xxd_plain_wrapped_at_60_is_masked(size: int) -> None:
    secret = generated(size)
    dump = xxd_plain(secret.encode())
    whole = masked_enough(secret, dump, Redactor([secret]))
    by_line = masked_enough(secret, streamed(Redactor([secret]), dump), Redactor([]))
    assert whole and by_line, "xxd -p"


@pytest.mark.parametrize("offset", range(12))
def test_a_secret_inside_a_longer_wrapped_encoding_is_masked_at_any_offset(offset: int) -> None:
    """A file that holds the secret, logged as base64 and as a hex dump.

    The bytes around it are zeros, whose encodings share no run of MIN_LENGTH
    characters with the secret's, so what survives can only be the secret.
    """
    secret = generated(40)
    document = bytes(offset) + secret.encode() + bytes(50)
    for name, encoded in (
        ("base64", coreutils_base64(document)),
        ("xxd", xxd_plain(document)),
    ):
        whole = masked_enough(secret, encoded, Redactor([secret]))
        by_line = masked_enough(secret, streamed(Redactor([secret]), encoded), Redactor([]))
        assert whole and by_line, f"{name} with the secret {offset} bytes in"


@pytest.mark.parametrize("user_length", range(9))
def test_basic_auth_of_user_and_secret_is_masked_at_any_prefix_length(user_length: int) -> None:
    secret = generated(24)
    user = "u" * user_length
    header = base64.b64encode(f"{user}:{secret}".encode()).decode()
    redact = Redactor([secret])
    line = f"GET / Authorization: Basic {header}"
    shown = redact(line)
    # The request line and the characters that encode only "user:" are not the secret's:
    # a random secret whose base64 happens to hold "dXV1" (uuu) must not count them.
    public = f"GET / Authorization: Basic {header[: (user_length + 1) * 8 // 6]}"
    assert shown.startswith(public), shown
    rest = shown.removeprefix(public)
    hidden = longest_survivor(rest, dense_forms(secret)) < MIN_LENGTH and MASK in rest
    assert hidden, f"user:secret with a {user_length}-character user"


def test_each_alignment_has_a_core_that_only_the_secret_decides() -> None:
    secret = random.token_bytes(20)
    cores = base64_cores(secret)
    for offset in range(3):
        for suffix in (b"", b"x", b"yz"):
            encoded = base64.b64encode(random.token_bytes(offset) + secret + suffix).decode()
            found = any(core in encoded for core in cores)
            assert found, f"offset {offset}, suffix of {len(suffix)}"


def go_json(value: str) -> str:
    """Go's encoding/json: <, >, & and U+2028/U+2029 as \\u escapes, the rest kept."""
    text = json.dumps(value, ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


ENCODERS: dict[str, Callable[[str], str]] = {
    "python ascii": json.dumps,
    "python utf-8": lambda v: json.dumps(v, ensure_ascii=False),
    "go": go_json,
    "php slashes": lambda v: json.dumps(v).replace("/", "\\/"),
    "upper hex escapes": lambda v: json.dumps(v).replace("\\u00e9", "\\u00E9"),
}


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_json_escaped_secrets_are_masked(encoder: str) -> None:
    secret = f'{generated(12)}&<>/"\\é\u2028\t{generated(6)}'
    redact = Redactor([secret])
    line = '{"level":"debug","config":{"password":' + ENCODERS[encoder](secret) + "}}"
    hidden = redact(line) == '{"level":"debug","config":{"password":"' + MASK + '"}}'
    assert hidden, encoder


def test_a_secret_too_short_to_mask_is_named_in_one_warning_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = generated(3)
    (tmp_path / "pin").write_text(short)
    (tmp_path / "token").write_text(generated(32))
    Redactor.from_files([tmp_path / "pin", tmp_path / "token"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pin" in err and "token" not in err
    assert f"fewer than {MIN_LENGTH} characters" in err
    shown = short in err.replace("pin", "")
    assert not shown, "the warning holds the value"
    Redactor([generated(2), generated(16)])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"shorter than {MIN_LENGTH} characters" in err


def test_values_long_enough_warn_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    Redactor([generated(MIN_LENGTH), "", "   "])
    assert capsys.readouterr().err == ""


def test_ordinary_log_lines_are_left_alone() -> None:
    redact = Redactor([generated(32) for _ in range(20)])
    lines = [
        "leaky-1  | took 7565ms, 36162 requests, id=0123456789abcdef",
        "leaky-1  | GET /api/v1/health 200 in 1.2ms",
        "leaky-1  | " + base64.b64encode(b"an unrelated payload of some length").decode(),
        "leaky-1  | 2026-06-01T12:00:00Z ready",
    ]
    assert [redact(line + "\n") for line in lines] == [line + "\n" for line in lines]
