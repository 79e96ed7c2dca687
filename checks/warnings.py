"""Compose's warnings, turned into findings instead of aborting the run.

``docker compose config`` exits 0 and prints warnings on stderr for keys it
accepts but ignores. On a stack a team already runs, those warnings are often
the most useful thing to report: a Swarm-only key means configuration the
author believes is applied and is not. Each warning line becomes one finding
with the service, the key, the file and line where the key is written, and a
severity:

- COMPOSE-001 (high): a Swarm-only key that plain compose silently ignores
  (``deploy.labels``, ``deploy.placement``, ``deploy.update_config``, secret
  and config ``uid``/``gid``/``mode``, ``ports[].mode: host``, ...).
- COMPOSE-002 (low): obsolete or deprecated syntax (``version:``,
  ``external.name``); compose still does the right thing.
- COMPOSE-003 (medium): an unset variable that compose replaces by a blank
  string. Medium, not high: whether it matters depends on the env file used for
  the run, and HYG-004 already fails a variable .env.example does not document.
- COMPOSE-009 (medium): any other warning, kept with compose's own line so
  nothing compose says is ever dropped.
- RENDER-001 (high): a profile combination that does not render at all.

The texts matched here were taken from compose v5.6 runs on small fixtures
(see tests/test_warnings.py), not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from checks.catalogue import info as rule_info
from checks.finding import Finding
from checks.stack import ProjectFacts

# `time="..." level=warning msg="..."` (no TTY) and `WARN[0000] ...` (TTY) forms.
_LOGFMT_RE = re.compile(r'^time="[^"]*"\s+level=(?P<level>\w+)\s+msg="(?P<msg>.*)"\s*$')
_TTY_RE = re.compile(r"^(?P<level>WARN|WARNING|ERRO|ERROR|INFO)(?:\[\d+\])?\s+(?P<msg>.*)$")
_SERVICE_RE = re.compile(r'^service "(?P<service>[^"]+)": (?P<key>[^\s:]+): (?P<text>.+)$')
_TOP_LEVEL_RE = re.compile(
    r"^(?P<key>(?:secrets|configs|networks|volumes)\.[^\s:]+): (?P<text>.+)$"
)
_VERSION_RE = re.compile(r"^(?P<file>.+): the attribute `version` is obsolete")
_UNSET_RE = re.compile(r'^The "(?P<variable>[^"]+)" variable is not set\.')
_SWARM_RE = re.compile(r"\bSwarm\b")
_DEPRECATED_RE = re.compile(r"\b(?:deprecated|obsolete)\b", re.IGNORECASE)
_STEP_RE = re.compile(r"([^.\[\]]+)(?:\[([^\]]*)\])?")


def compose_message(line: str) -> str:
    """The message of one compose log line, without timestamp, level and quoting."""
    text = line.strip()
    match = _LOGFMT_RE.match(text) or _TTY_RE.match(text)
    if match:
        text = match.group("msg")
    return text.replace('\\"', '"').strip()


def key_steps(key: str) -> list[str]:
    """``secrets.db.uid`` -> [secrets, db, uid]; ``ports[80/tcp].mode`` -> [ports, 80/tcp, mode]."""
    steps: list[str] = []
    for name, index in _STEP_RE.findall(key):
        steps.extend([name, index] if index else [name])
    return steps


@dataclass(frozen=True)
class _Place:
    file: str
    line: int
    depth: int


def _service_places(
    facts: ProjectFacts, service: str, steps: Sequence[str], seen: set[tuple[str, str]]
) -> Iterator[_Place]:
    """Where ``services.<service>.<steps>`` is written, following ``extends`` templates."""
    files = [d.file for d in facts.declarations.get(service, ())] or list(facts.texts)
    for file in files:
        if (file, service) in seen:
            continue
        seen.add((file, service))
        line, depth = facts.key_line(file, ["services", service, *steps])
        yield _Place(file, line, depth)
        spec = ((facts.documents.get(file) or {}).get("services") or {}).get(service)
        extends = spec.get("extends") if isinstance(spec, Mapping) else None
        if isinstance(extends, str):
            extends = {"service": extends}
        if isinstance(extends, Mapping) and extends.get("service"):
            template = str(extends["service"])
            target = _relative_to(file, str(extends.get("file") or ""), facts)
            if target is None:
                yield from _service_places(facts, template, steps, seen)
            else:
                line, depth = facts.key_line(target, ["services", template, *steps])
                yield _Place(target, line, depth)


def _relative_to(base: str, path: str, facts: ProjectFacts) -> str | None:
    """An ``extends.file`` as a project path, when it is one of the files read."""
    if not path:
        return None
    parts: list[str] = base.split("/")[:-1]
    for part in path.split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in {"", "."}:
            parts.append(part)
    candidate = "/".join(parts)
    return candidate if candidate in facts.texts else None


def locate(facts: ProjectFacts, service: str, key: str) -> tuple[str, int]:
    """The file and line where ``key`` is written: for a service, in the service's own
    file or the template it extends; else among the top-level keys of the files read."""
    steps = key_steps(key)
    if service:
        places = list(_service_places(facts, service, steps, set()))
        best = max(places, key=lambda p: p.depth, default=None)
        if best is None or best.depth < 2:
            return facts.source(service)
        return best.file, best.line
    found = [_Place(file, *facts.key_line(file, steps)) for file in [*facts.loaded, *facts.texts]]
    best = max(found, key=lambda p: p.depth, default=None)
    if best is None or best.depth == 0:
        return facts.root_name, 1
    return best.file, best.line


def _project_file(facts: ProjectFacts, path: str) -> str:
    """The project-relative name of a file compose names by its absolute path."""
    matches = [f for f in facts.texts if path == f or path.endswith("/" + f)]
    return max(matches, key=len, default=facts.root_name)


def _variable_place(facts: ProjectFacts, variable: str) -> tuple[str, int]:
    file = facts.variables.get(variable, facts.root_name)
    return file, facts.variable_line(file, variable)


def classify(line: str, facts: ProjectFacts) -> Finding | None:
    """One compose stderr line as a finding; None for blank lines."""
    text = compose_message(line)
    if not text:
        return None
    if match := _SERVICE_RE.match(text):
        service, key, detail = match["service"], match["key"], match["text"]
        rule_id = "COMPOSE-001" if _SWARM_RE.search(detail) else "COMPOSE-009"
        if rule_id == "COMPOSE-009" and _DEPRECATED_RE.search(detail):
            rule_id = "COMPOSE-002"
        source, number = locate(facts, service, key)
        return rule_info(rule_id).finding(
            service, f"{key}: {detail}", source=source, line=number, subject=key
        )
    if match := _TOP_LEVEL_RE.match(text):
        key, detail = match["key"], match["text"]
        if _SWARM_RE.search(detail):
            rule_id = "COMPOSE-001"
        elif _DEPRECATED_RE.search(detail):
            rule_id = "COMPOSE-002"
        else:
            rule_id = "COMPOSE-009"
        source, number = locate(facts, "", key)
        return rule_info(rule_id).finding(
            "", f"{key}: {detail}", source=source, line=number, subject=key
        )
    if match := _VERSION_RE.match(text):
        source = _project_file(facts, match["file"])
        number, _ = facts.key_line(source, ["version"])
        message = f"{source}: the top-level version: key is obsolete and ignored"
        return rule_info("COMPOSE-002").finding(
            "", message, source=source, line=number, subject=f"version:{source}"
        )
    if match := _UNSET_RE.match(text):
        variable = match["variable"]
        source, number = _variable_place(facts, variable)
        message = f"{variable} is not set and becomes a blank string"
        return rule_info("COMPOSE-003").finding(
            "", message, source=source, line=number, subject=variable
        )
    return rule_info("COMPOSE-009").finding("", text, source=facts.root_name, subject=text)


def findings_from_warnings(
    lines: Sequence[str], facts: ProjectFacts, profiles: tuple[str, ...]
) -> list[Finding]:
    """One finding per distinct compose warning line; unknown texts become COMPOSE-009.

    ``profiles`` is the combination that printed the lines: the same warning from
    several combinations is the same finding (same fingerprint), so it is not part
    of the message.
    """
    del profiles  # every combination's copy of a warning is one finding
    unique: dict[str, Finding] = {}
    for line in lines:
        finding = classify(line, facts)
        if finding is not None:
            unique.setdefault(finding.fingerprint, finding)
    return list(unique.values())


def render_failure_finding(
    profiles: tuple[str, ...], error_line: str, *, source: str = "docker-compose.yml"
) -> Finding:
    """A profile combination compose cannot render, carrying compose's own line."""
    label = ",".join(profiles) or "(no profile)"
    reason = compose_message(error_line) or "docker compose config failed"
    return rule_info("RENDER-001").finding(
        "", f"profiles {label} do not render: {reason}", source=source, subject=label
    )
