"""Hostile reports: everything a project controls is inert in every format.

A compose file may put terminal control sequences in any string (YAML's ``\\e``
and ``\\a`` escapes): an env key, an image, a volume target, a profile name.
Printed raw, ``ESC ] 0 ; ... BEL`` sets the terminal title, ``ESC ] 52`` writes
the clipboard and ``ESC [ 1 A ESC [ 2 K`` erases the line above, and the same
bytes make a JUnit file "not well-formed". Table and text show them escaped,
JUnit escapes what XML 1.0 forbids, JSON and SARIF escape them by themselves.
An excepted finding stays visible in JUnit as a skipped case with its rationale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from test_bad_inputs import DEAD_ENGINE

from checks.catalogue import rule_catalogue
from checks.finding import Finding, Severity
from conftest import FIXTURES
from stackctl.console import inert, say, table
from stackctl.reporting.findings import findings_cases
from stackctl.reporting.junit import Case, junit

TITLE = "\x1b]0;PWNED\x07"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
ERASE_ABOVE = "\x1b[1A\x1b[2K"
C1_CSI = "\x9b31m"
# Any character a terminal acts on: C0 but tab and newline, DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HOSTILE = f"a{TITLE}b{CLIPBOARD}c{ERASE_ABOVE}d{C1_CSI}\r\x00\x7f"


# -- one function makes text inert ------------------------------------------------------


def test_inert_escapes_every_control_but_tab_and_newline() -> None:
    shown = inert(HOSTILE + "\tkept\nkept")
    assert not RAW_CONTROL.search(shown), repr(shown)
    assert "\\x1b]0;PWNED\\x07" in shown and "\\x9b31m" in shown
    assert "\\x0d\\x00\\x7f" in shown
    assert shown.endswith("\tkept\nkept")
    assert inert(shown) == shown, "escaping twice changes nothing"
    assert inert("café ünïcode") == "café ünïcode"


def test_inert_escapes_bidi_overrides_and_unicode_line_separators() -> None:
    # "Trojan Source": a right-to-left override makes `prod` read as `dorp` in a table cell.
    reordering = "svc\u202eprod\u202c \u2066iso\u2069 \u200fmark \u061c line\u2028break"
    shown = inert(reordering)
    assert not set(shown) & set("\u202e\u202c\u2066\u2069\u200f\u061c\u2028"), repr(shown)
    assert "\\u202eprod\\u202c" in shown and "\\u2066iso\\u2069" in shown
    assert "\\u200fmark" in shown and "\\u061c" in shown and "line\\u2028break" in shown
    assert inert(shown) == shown


def test_table_cells_headers_and_say_are_inert(capsys: pytest.CaptureFixture[str]) -> None:
    text = table([(HOSTILE, 1, None, Path(f"/data{TITLE}"))], [f"h{TITLE}", "n", "x", "p"])
    assert not RAW_CONTROL.search(text), repr(text)
    assert "/data\\x1b]0;PWNED\\x07" in text
    say(f"profile c{TITLE} renders")
    err = capsys.readouterr().err
    assert not RAW_CONTROL.search(err) and "c\\x1b]0;PWNED\\x07 renders" in err


# -- JUnit is well-formed XML whatever the project holds ----------------------------------


def test_junit_with_every_forbidden_character_parses() -> None:
    forbidden = HOSTILE + "\ufffe\uffff\ud800\x0c"
    xml = junit(
        [Case(f"suite{TITLE}", f"case{forbidden}", False, 0.0, f"first{forbidden}\nsecond")],
        f"check{CLIPBOARD}",
    )
    root = ET.fromstring(xml)  # raises "not well-formed" on today's code
    assert not RAW_CONTROL.search(xml)
    (failure,) = root.iter("failure")
    assert "firsta\\x1b]0;PWNED\\x07b" in failure.get("message", "")
    assert "\\ufffe\\uffff\\ud800\\x0c" in (failure.text or "")


# -- JUnit keeps excepted findings --------------------------------------------------------

CATALOGUE = rule_catalogue()
ADR = "docs/adr/0002-entrypoint-capabilities.md"


def excepted(service: str, subject: str) -> Finding:
    info = CATALOGUE["PRIV-005"]
    return Finding(
        "PRIV-005",
        info.requirement,
        Severity.CRITICAL,
        service,
        f"adds {subject}",
        info.hint,
        "x.yml",
        3,
        subject,
        suppressed_by=f"needed to mount a FUSE filesystem ({ADR})",
        suppressed_relaxes=f"cap_add {subject}",
    )


def test_a_rule_with_only_excepted_findings_is_a_skipped_case_with_the_rationale() -> None:
    findings = [excepted("db", "SYS_ADMIN"), excepted("web", "NET_ADMIN")]
    (case,) = findings_cases(findings, [CATALOGUE["PRIV-005"]])
    assert case.ok and case.skipped
    root = ET.fromstring(junit([case], "check"))
    (skipped,) = root.iter("skipped")
    text = skipped.text or ""
    for service, subject in (("db", "SYS_ADMIN"), ("web", "NET_ADMIN")):
        assert f"excepted {service}: adds {subject} (x.yml:3); relaxes cap_add {subject}" in text
    assert "needed to mount a FUSE filesystem" in text and ADR in text
    (suite,) = root.iter("testsuite")
    assert suite.get("skipped") == "1" and suite.get("failures") == "0"


def test_a_rule_without_findings_still_passes_plainly() -> None:
    (case,) = findings_cases([], [CATALOGUE["PRIV-005"]])
    assert case.ok and not case.skipped
    assert not list(ET.fromstring(junit([case], "check")).iter("skipped"))


# -- a hostile project, end to end --------------------------------------------------------

E = "\\e]0;PWNED\\a"  # YAML's escapes for TITLE, inside double quotes
HOSTILE_WEB = f"""\
services:
  web:
    extends: {{file: ../../common-optimizations.yml, service: small}}
    profiles: [core, "c{E}"]
    image: "busybox{E}:1"
    secrets: [web_token]
    environment:
      "DB_PASSWORD{E}": not-a-real-value
    volumes:
      - "/srv/elsewhere:/data{E}"
    labels:
      clip: "\\e]52;c;ZXZpbA==\\a"
      erase: "\\e[1A\\e[2K\\u009b"
    command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1::8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
"""
# The three strings that reach findings, each with the title sequence in it.
SHOWN = ("busybox", "/data", "DB_PASSWORD")


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("reports") / "project"
    shutil.copytree(FIXTURES / "opsstack", project)
    shutil.copy(project / ".env.example", project / ".env")
    (project / "infra" / "10-core" / "web" / "docker-compose.yml").write_text(HOSTILE_WEB)
    # Judged as this repository judges itself, so the state-path rule reports /data too.
    (project / ".stackctl.toml").write_text('rule-set = "platform"\n')
    return project


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackctl", "--project", str(project), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": DEAD_ENGINE, "STACKCTL_DEBUG": ""},
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def reports(hostile_project: Path) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    yield {
        fmt: run(hostile_project, "check", "--format", fmt)
        for fmt in ("table", "junit", "json", "sarif")
    } | {"profiles": run(hostile_project, "profiles")}


@pytest.mark.slow
@pytest.mark.parametrize("report", ["table", "junit", "json", "sarif", "profiles"])
def test_no_control_character_reaches_any_report(
    report: str, reports: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    done = reports[report]
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == (0 if report == "profiles" else 1), done.stderr
    for stream in (done.stdout, done.stderr):
        assert not RAW_CONTROL.search(stream), repr(RAW_CONTROL.findall(stream))


@pytest.mark.slow
def test_the_table_shows_the_sequences_escaped(
    reports: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    table_text = reports["table"].stdout
    for start in SHOWN:
        assert f"{start}\\x1b]0;PWNED\\x07" in table_text, start
    assert "c\\x1b]0;PWNED\\x07" in reports["profiles"].stdout


@pytest.mark.slow
def test_junit_of_the_hostile_project_is_well_formed(
    reports: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    root = ET.fromstring(reports["junit"].stdout)
    messages = "\n".join(f.text or "" for f in root.iter("failure"))
    assert "busybox\\x1b]0;PWNED\\x07" in messages


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_json_and_sarif_keep_the_value_escaped_by_json_itself(
    fmt: str, reports: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    text = reports[fmt].stdout
    assert "\\u001b]0;PWNED\\u0007" in text  # JSON's own escape: inert as printed
    assert any(TITLE in value for value in strings(json.loads(text))), "the value itself is kept"


def strings(data: object) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings(value)
