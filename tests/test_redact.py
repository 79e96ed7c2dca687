"""Redaction masks each secret value raw and in the encodings services log."""

from __future__ import annotations

import base64
import re
import secrets as random
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackctl.operating.redact import MASK, Redactor, encoded_forms


def encodings(value: str) -> dict[str, str]:
    raw = value.encode()
    return {
        "raw": value,
        "base64": base64.b64encode(raw).decode(),
        "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "url": quote(value, safe=""),
        "url plus": quote_plus(value),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
    }


def test_every_encoded_form_of_a_secret_is_masked() -> None:
    secret = base64.urlsafe_b64encode(random.token_bytes(32)).decode()  # has - _ =
    redact = Redactor([secret])
    for name, form in encodings(secret).items():
        line = f"level=info {name}: {form} done"
        assert redact(line) == f"level=info {name}: {MASK} done", name


def test_url_encoding_with_lower_case_escapes_is_masked() -> None:
    secret = "p@ss w/rd=1"
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe=""))
    assert lower != quote(secret, safe="")
    assert Redactor([secret])(lower) == MASK


def test_lines_of_multi_line_secrets_and_key_values_are_masked_encoded() -> None:
    secret = "default_user = platform\ndefault_pass = Zq8LxV3kP0aW\n"
    redact = Redactor([secret])
    text = "pass=" + base64.b64encode(b"Zq8LxV3kP0aW").decode()
    assert "Zq8LxV3kP0aW" not in redact(text)
    assert redact(text) == f"pass={MASK}"


def test_short_values_and_ordinary_text_are_left_alone() -> None:
    redact = Redactor(["abc", "s3cr3t-value"])
    assert redact("abc is fine, 616263 too") == "abc is fine, 616263 too"
    assert redact("nothing secret here") == "nothing secret here"
    assert all(len(form) >= 4 for form in encoded_forms("abcd"))


@given(st.text(min_size=4, max_size=40).filter(lambda s: s.strip() == s and "\n" not in s))
def test_no_encoding_of_any_value_survives(secret: str) -> None:
    redact = Redactor([secret])
    for form in encodings(secret).values():
        if len(form) >= 4:
            assert form not in redact(f"<{form}>")


@pytest.mark.engine
def test_engine_encoded_secret_in_logs_and_failure_report_is_masked(
    tmp_path, docker_engine, test_image: str
) -> None:
    """The fixture's `leaky` service prints its secret as base64, base64url, hex and URL-encoded."""
    from opsstack import make_copy, remove_everything

    from cli import run_invoke

    copy = make_copy(tmp_path, test_image, "leak")
    copy.scaffold()
    try:
        secret = (copy.path / "secrets" / "leaky_key").read_text()
        up = run_invoke(copy.path, "up", "--profiles", "leaky", "--wait-timeout", "20")
        logs = run_invoke(copy.path, "logs", "--service", "leaky")
    finally:
        remove_everything(docker_engine, copy.name)
    assert up.returncode == 1 and "last 20 log lines of leaky" in up.stderr
    for output in (up.stderr, logs.stdout):
        for label in ("b64", "b64url", "hex", "url"):
            assert f"{label} {MASK}" in output, output[-2000:]
    text = up.stdout + up.stderr + logs.stdout + logs.stderr
    for name, form in encodings(secret).items():
        assert form not in text, name


def test_a_secret_that_cannot_be_read_is_named_in_a_warning(tmp_path, capsys) -> None:
    """A FIFO (or folder) where a secret file belongs cannot be masked: say so, by name."""
    import os

    from stackctl.operating.redact import Redactor

    fifo = tmp_path / "db_password"
    os.mkfifo(fifo)
    (tmp_path / "folder_secret").mkdir()
    Redactor.from_files([fifo, tmp_path / "folder_secret", tmp_path / "not_scaffolded_yet"])
    err = capsys.readouterr().err
    assert "db_password" in err and "folder_secret" in err and "cannot be masked" in err
    assert "not_scaffolded_yet" not in err
