"""The baseline: today's findings, accepted, so that only new ones fail.

``stackctl baseline`` writes the fingerprints of every open finding to a file
the project commits (``.stackctl-baseline.json`` unless its configuration says
otherwise). ``check`` then marks a finding whose fingerprint is listed as
suppressed ("in the baseline"), so it is still reported but fails nothing. An
entry that no finding matches any more was fixed: it is reported as stale, and
fails nothing either; writing the baseline again drops it.

A fingerprint is the rule, the service and the subject (``Finding.fingerprint``),
never a line: moving a service in its file keeps it baselined, while a new
service with the same defect is a new finding. The file holds the rule, service,
subject and message of each entry for the reader; messages never hold secret
values. Format (``schema_version`` 1)::

    {"schema_version": 1, "tool": "stackctl",
     "findings": [{"fingerprint": "<32 hex>", "rule": "PRIV-001", "service": "web",
                   "subject": "", "severity": "medium", "message": "..."}]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks.finding import Finding
from checks.project_files import UnreadableFile, read_project_text

SCHEMA_VERSION = 1
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_BYTES = 16 * 1024 * 1024
ENTRY_KEYS = ("fingerprint", "rule", "service", "subject", "severity", "message")


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names it and what is wrong."""


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    rule: str
    service: str
    subject: str
    line: int  # where the entry sits in the file, for the report


@dataclass(frozen=True)
class Baseline:
    """The entries of one baseline file, as read (``name`` is relative to the project)."""

    name: str
    entries: tuple[Entry, ...] = ()

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(e.fingerprint for e in self.entries)


@dataclass(frozen=True)
class Applied:
    """Findings with the baselined ones suppressed, and the entries nothing matched."""

    findings: list[Finding]
    matched: int
    stale: tuple[Entry, ...]


ACCEPTED = "accepted in the baseline"


def reason(name: str) -> str:
    """The suppression reason a baselined finding carries (the file in parentheses)."""
    return f"{ACCEPTED} ({name})"


def accepted(finding: Finding) -> bool:
    """Whether the baseline, not an exception, suppresses ``finding``."""
    return finding.suppressed_by.startswith(ACCEPTED)


def render(findings: Iterable[Finding]) -> str:
    """The file's text for the open findings: one entry per line, sorted, stable to diff."""
    rows = sorted(
        {f.fingerprint: f for f in findings if not f.suppressed}.values(),
        key=lambda f: (f.rule_id, f.service, f.subject, f.fingerprint),
    )
    entries = [
        json.dumps(
            {
                "fingerprint": f.fingerprint,
                "rule": f.rule_id,
                "service": f.service,
                "subject": f.subject,
                "severity": f.severity.label,
                "message": f.message,
            },
            ensure_ascii=False,
        )
        for f in rows
    ]
    body = ",\n".join(f"    {e}" for e in entries)
    return (
        "{\n"
        f'  "schema_version": {SCHEMA_VERSION},\n'
        '  "tool": "stackctl",\n'
        '  "note": "accepted findings: `stackctl check` fails only on findings not listed;'
        ' `stackctl baseline` rewrites this file",\n'
        f'  "findings": [\n{body}\n  ]\n'
        "}\n"
    )


def _entry(item: Any, index: int, text: str, shown: str) -> Entry:
    where = f"{shown}: findings[{index}]"
    if not isinstance(item, dict):
        raise BaselineError(f"{where} must be an object")
    unknown = sorted(set(item) - set(ENTRY_KEYS))
    if unknown:
        raise BaselineError(f"{where} has unknown key {unknown[0]!r}")
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not FINGERPRINT_RE.match(fingerprint):
        raise BaselineError(f"{where}: fingerprint must be 32 lowercase hex digits")
    fields = {k: item.get(k, "") for k in ("rule", "service", "subject")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise BaselineError(f"{where}: rule, service and subject must be strings")
    offset = text.find(fingerprint)
    line = text.count("\n", 0, offset) + 1 if offset >= 0 else 1
    return Entry(fingerprint, fields["rule"], fields["service"], fields["subject"], line)


def parse(text: str, shown: str) -> Baseline:
    """A ``Baseline`` from the file's text, or ``BaselineError`` naming what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(f"{shown} is not valid JSON at line {error.lineno}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"{shown} must hold a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BaselineError(
            f"{shown} has schema_version {version!r}; this stackctl reads {SCHEMA_VERSION}"
        )
    items = data.get("findings")
    if not isinstance(items, list):
        raise BaselineError(f"{shown}: findings must be a list")
    entries = tuple(_entry(item, i, text, shown) for i, item in enumerate(items))
    return Baseline(shown, entries)


def read(project_dir: Path, name: str) -> Baseline | None:
    """The project's baseline, None when it has none; never a symlink or a special file."""
    try:
        limit_text = f"{MAX_BYTES // (1024 * 1024)} MiB"
        text = read_project_text(project_dir / name, name, MAX_BYTES, limit_text)
    except UnreadableFile as error:
        suffix = "; the baseline must be a regular file" if error.problem == "symlink" else ""
        raise BaselineError(error.message + suffix) from None
    if text is None:
        return None
    return parse(text, name)


def apply(findings: Sequence[Finding], baseline: Baseline | None) -> Applied:
    """Suppress the open findings the baseline lists; the entries left over are stale."""
    if baseline is None:
        return Applied(list(findings), 0, ())
    listed = baseline.fingerprints
    seen: set[str] = set()
    result: list[Finding] = []
    for finding in findings:
        if not finding.suppressed and finding.fingerprint in listed:
            seen.add(finding.fingerprint)
            finding = finding.suppress(reason(baseline.name))
        result.append(finding)
    stale = tuple(e for e in baseline.entries if e.fingerprint not in seen)
    return Applied(result, len(seen), stale)
