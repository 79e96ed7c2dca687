"""The exceptions registry (infra/exceptions.yml): documented, expiring deviations.

An exception can silence a critical finding, so the format is strict and fails
closed. Each entry names one service, the rule (or requirement) it relaxes, the
exact subjects relaxed (``subjects: ["*"]`` to relax every subject, written out),
what is relaxed, why, and an ADR that must exist. Anything else is EXC-001 and the
entry suppresses nothing: an unknown or duplicate key, a missing field, a rule or
service that does not exist. A finding matched by a live entry stays in every
report, marked suppressed with the rationale and what the entry relaxes. An entry
that matches nothing among the services rendered in this run is stale (EXC-003);
an expired one fails (EXC-002).
"""

from __future__ import annotations

import datetime as dt
import difflib
import stat
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from checks.catalogue import rule_catalogue, rules_of_kind
from checks.compose_files import size_problem
from checks.finding import Finding
from checks.locate import BoundedComposition, BoundExceeded
from checks.rule import RuleInfo

REGISTRY_PATH = "infra/exceptions.yml"
# A registry of a few hundred entries is some 100 KiB; a bigger one is refused (EXC-001).
REGISTRY_MAX_BYTES = 1024 * 1024
REQUIRED_FIELDS = ("service", "subjects", "relaxes", "rationale", "adr")
KNOWN_FIELDS = ("service", "rule", "requirement", *REQUIRED_FIELDS[1:], "expires")
ALL_SUBJECTS = "*"
TOP_LEVEL_KEYS = ("exceptions",)


@dataclass(frozen=True)
class Waiver:
    index: int
    service: str
    rule: str
    requirement: str
    subjects: tuple[str, ...]
    relaxes: str
    rationale: str
    adr: str
    expires: dt.date | None

    @property
    def label(self) -> str:
        relaxed = self.rule or self.requirement
        return f"{REGISTRY_PATH} entry {self.index + 1} ({self.service} {relaxed})"

    @property
    def all_subjects(self) -> bool:
        return self.subjects == (ALL_SUBJECTS,)

    def live_on(self, today: dt.date) -> bool:
        return self.expires is None or self.expires >= today

    def matches(self, finding: Finding, mirrors: Collection[str] = ()) -> bool:
        """True only when service, rule or requirement, and subject are named exactly.

        ``mirrors`` are the static rules the finding's rule enforces at another
        stage: an exception for one of them covers the finding too.
        """
        if finding.service != self.service:
            return False
        if self.rule and finding.rule_id != self.rule and self.rule not in mirrors:
            return False
        if self.requirement and finding.requirement != self.requirement:
            return False
        return self.all_subjects or finding.subject in self.subjects


class RegistryMapping(dict[Any, Any]):
    """A mapping read from the registry, remembering keys the YAML repeats.

    PyYAML silently keeps the last of two equal keys; in an exception that can
    turn a narrow entry into a wide one, so repeats are kept for EXC-001.
    """

    duplicates: tuple[str, ...] = ()


class RegistryLoader(BoundedComposition, yaml.SafeLoader):
    """SafeLoader whose mappings are RegistryMapping, within the YAML bounds of
    ``checks.locate`` (depth, alias expansion)."""


def _construct_mapping(loader: RegistryLoader, node: yaml.MappingNode) -> RegistryMapping:
    loader.flatten_mapping(node)
    mapping = RegistryMapping()
    repeated: list[str] = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | dt.date) and key is not None:
            key = str(key)  # unhashable keys are reported as unknown keys, never crash
        if key in mapping:
            repeated.append(str(key))
        mapping[key] = loader.construct_object(value_node, deep=True)
    mapping.duplicates = tuple(repeated)
    return mapping


RegistryLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_registry(text: str) -> Any:
    """Parse the registry's YAML, keeping track of repeated keys in every mapping."""
    return yaml.load(text, Loader=RegistryLoader)  # a SafeLoader subclass: no arbitrary objects


def _meta(rule_id: str, message: str, subject: str) -> Finding:
    """A finding of one of the registry's own rules (EXC-*), about the registry file."""
    return rules_of_kind("exceptions")[rule_id].finding(
        "", message, source=REGISTRY_PATH, subject=subject
    )


class _TextDatesLoader(RegistryLoader):
    """The registry loader with dates left as text, so an impossible date is an entry problem."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in RegistryLoader.yaml_implicit_resolvers.items()
}


def _file_problem(message: str) -> tuple[list[Waiver], list[Finding], tuple[str, ...]]:
    return [], [_meta("EXC-001", f"{REGISTRY_PATH} {message}", "file")], ()


# The registry as last read, by its path and what stat says of it: ``check``, the fix
# plan and the report each ask for it in one run, and it is read and parsed once.
_last_read: (
    tuple[tuple[object, ...], tuple[bool, ...], tuple[list[Waiver], list[Finding], tuple[str, ...]]]
    | None
) = None


def load(project_dir: Path) -> tuple[list[Waiver], list[Finding]]:
    """Read the registry; every problem, with the file or an entry, comes back as EXC-001.

    A registry that cannot be read is never skipped in silence: its findings
    would reappear unexplained. It fails the gate with the reason instead. The
    result is reused while the file's identity, size and times (a write changes its
    ctime) and the existence of the ADRs it names are unchanged, so one run reads
    and parses it once.
    """
    global _last_read
    path = project_dir / REGISTRY_PATH
    try:
        info = path.stat()
        signature: tuple[object, ...] | None = (
            str(project_dir.resolve()),
            info.st_dev,
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            path.is_symlink(),
        )
    except (OSError, RuntimeError):
        signature = None  # missing, a loop, unreadable: cheap to answer again
    if signature is not None and _last_read is not None and _last_read[0] == signature:
        _, adrs_found, (waivers, problems, adrs) = _last_read
        if tuple(_adr_exists(project_dir, adr) for adr in adrs) == adrs_found:
            return list(waivers), list(problems)
    waivers, problems, adrs = _read(project_dir)
    if signature is not None:
        found = tuple(_adr_exists(project_dir, adr) for adr in adrs)
        _last_read = (signature, found, (list(waivers), list(problems), adrs))
    return waivers, problems


def _read(project_dir: Path) -> tuple[list[Waiver], list[Finding], tuple[str, ...]]:
    """The registry parsed, and the ADRs its entries name (their existence is judged)."""
    path = project_dir / REGISTRY_PATH
    try:
        info = path.lstat()
    except FileNotFoundError:
        return [], [], ()
    except OSError as error:
        return _file_problem(f"cannot be read: {error.strerror}")
    if stat.S_ISLNK(info.st_mode):
        try:
            target = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
            return _file_problem("is a symlink loop")
        if not target.is_relative_to(project_dir.resolve()):
            return _file_problem("is a symlink that leads outside the project")
        try:
            info = path.stat()
        except OSError as error:
            return _file_problem(f"is a symlink that cannot be followed: {error.strerror}")
    if stat.S_ISDIR(info.st_mode):
        return _file_problem("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device would block or never end.
        return _file_problem("is not a regular file (a FIFO or device?)")
    if info.st_size > REGISTRY_MAX_BYTES:
        return _file_problem(size_problem(info.st_size, REGISTRY_MAX_BYTES, "the registry"))
    try:
        with path.open("rb") as stream:
            data_bytes = stream.read(REGISTRY_MAX_BYTES + 1)
        if len(data_bytes) > REGISTRY_MAX_BYTES:  # it grew since stat
            return _file_problem("is over the 1 MiB bound for the registry")
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        return _file_problem(f"is not UTF-8 text (byte {error.start})")
    except OSError as error:
        return _file_problem(f"cannot be read: {error.strerror}")
    try:
        data = yaml.load(text, Loader=_TextDatesLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        return _file_problem(f"is not valid YAML{where}: {problem}")
    except BoundExceeded as bound:
        return _file_problem(str(bound))
    if data is None:
        return [], [], ()
    if not isinstance(data, Mapping):
        return _file_problem(
            f"must be a mapping with an `exceptions:` list, not a {type(data).__name__}"
        )
    # A misspelt top-level key (`exception:`) would otherwise read as an empty registry.
    top_level = [f"repeats top-level key {key!r}" for key in getattr(data, "duplicates", ())]
    top_level += [
        f"has unknown top-level key {str(key)!r}{_did_you_mean(str(key), TOP_LEVEL_KEYS)}"
        for key in data
        if key not in TOP_LEVEL_KEYS
    ]
    file_problems = [_meta("EXC-001", f"{REGISTRY_PATH} {p}", "file") for p in top_level]
    entries = data.get("exceptions") or []
    if not isinstance(entries, list):
        return _file_problem(f"`exceptions:` must be a list, not a {type(entries).__name__}")
    waivers, problems = parse(entries, project_dir)
    adrs = tuple(
        str(entry["adr"]).strip()
        for entry in entries
        if isinstance(entry, Mapping) and _text(entry.get("adr")) is not None
    )
    return waivers, [*file_problems, *problems], adrs


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _text(value: Any) -> str | None:
    """A non-empty string, or None: numbers, lists and blanks are not names."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def entry_problems(entry: Mapping[Any, Any], project_dir: Path) -> list[str]:
    """Everything that makes one entry ambiguous or incomplete (empty when valid)."""
    problems = [f"repeats key {key!r}" for key in getattr(entry, "duplicates", ())]
    for key in entry:
        if key not in KNOWN_FIELDS:
            problems.append(f"has unknown key {str(key)!r}{_did_you_mean(str(key), KNOWN_FIELDS)}")
    for key in ("service", "relaxes", "rationale", "adr"):
        if _text(entry.get(key)) is None:
            problems.append(f"lacks {key}" if key not in entry else f"{key} must be text")
    for key in ("rule", "requirement"):
        if key in entry and _text(entry.get(key)) is None:
            problems.append(f"{key} must be text")
    if "rule" not in entry and "requirement" not in entry:
        problems.append("lacks rule or requirement")
    problems += _subject_problems(entry)
    adr = _text(entry.get("adr"))
    if adr is not None and not _adr_exists(project_dir, adr):
        problems.append(f"links missing ADR {adr}")
    expires = entry.get("expires")
    if expires is not None and _expiry(expires) is None:
        problems.append("has a malformed expires date (write YYYY-MM-DD)")
    return problems


def _subject_problems(entry: Mapping[Any, Any]) -> list[str]:
    if "subjects" not in entry:
        return ['lacks subjects (list the exact items, or subjects: ["*"] for all)']
    subjects = entry["subjects"]
    if not isinstance(subjects, list) or not subjects:
        return ['subjects must be a non-empty list (["*"] for all)']
    if any(_text(s) is None for s in subjects):
        return ["subjects must be text (quote numbers and octal modes)"]
    if ALL_SUBJECTS in subjects and len(subjects) > 1:
        return ['subjects mixes "*" with named subjects; write either ["*"] or the names']
    return []


def _adr_exists(project_dir: Path, adr: str) -> bool:
    """The ADR is a file inside the repository (a symlink out of it does not count)."""
    path = project_dir / adr
    try:
        path.resolve().relative_to(project_dir.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
        return False
    return path.is_file()


def _expiry(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def parse(entries: Sequence[Any], project_dir: Path) -> tuple[list[Waiver], list[Finding]]:
    """Valid entries as waivers; each invalid entry as one EXC-001 naming every problem."""
    waivers: list[Waiver] = []
    problems: list[Finding] = []
    for index, entry in enumerate(entries):
        where = f"entry {index + 1}"
        if not isinstance(entry, Mapping):
            problems.append(_meta("EXC-001", f"{where} is not a mapping", where))
            continue
        found = entry_problems(entry, project_dir)
        if found:
            problems.append(_meta("EXC-001", f"{where} {'; '.join(found)}", where))
            continue
        waivers.append(
            Waiver(
                index=index,
                service=str(entry["service"]).strip(),
                rule=str(entry.get("rule") or "").strip(),
                requirement=str(entry.get("requirement") or "").strip(),
                subjects=tuple(str(s).strip() for s in entry["subjects"]),
                relaxes=" ".join(str(entry["relaxes"]).split()),
                rationale=" ".join(str(entry["rationale"]).split()),
                adr=str(entry["adr"]).strip(),
                expires=_expiry(entry["expires"]) if entry.get("expires") is not None else None,
            )
        )
    return waivers, problems


def check_names(
    waivers: Sequence[Waiver], rules: Mapping[str, RuleInfo], services: Collection[str]
) -> tuple[list[Waiver], list[Finding]]:
    """Split waivers into those naming known things and EXC-001 for the others.

    ``rules`` is the whole catalogue; ``services`` every service the project
    defines (in any profile), so an entry for a service that is not rendered in
    this run is still valid.
    """
    requirements = {info.requirement for info in rules.values()}
    valid: list[Waiver] = []
    problems: list[Finding] = []
    for waiver in waivers:
        found: list[str] = []
        if waiver.service not in services:
            found.append(f"names unknown service {waiver.service!r}")
            found[-1] += _did_you_mean(waiver.service, services)
        if waiver.rule and waiver.rule not in rules:
            found.append(f"names unknown rule {waiver.rule!r}{_did_you_mean(waiver.rule, rules)}")
        elif waiver.rule in rules_of_kind("exceptions"):
            found.append(f"cannot except the registry's own rule {waiver.rule}")
        elif (
            waiver.rule
            and waiver.requirement
            and rules[waiver.rule].requirement != (waiver.requirement)
        ):
            found.append(
                f"names rule {waiver.rule} with requirement {waiver.requirement}, "
                f"but {waiver.rule} traces to {rules[waiver.rule].requirement}"
            )
        if waiver.requirement and waiver.requirement not in requirements:
            found.append(
                f"names unknown requirement {waiver.requirement!r}"
                + _did_you_mean(waiver.requirement, requirements)
            )
        if found:
            where = f"entry {waiver.index + 1}"
            problems.append(_meta("EXC-001", f"{where} {'; '.join(found)}", where))
        else:
            valid.append(waiver)
    return valid, problems


def waive(
    findings: Iterable[Finding], waivers: Sequence[Waiver], today: dt.date
) -> tuple[list[Finding], set[int]]:
    """Mark every finding a live waiver matches as suppressed: the one matcher, for
    static and runtime findings alike.

    An exception written for a static rule also covers a rule that ``mirrors`` it
    (a runtime check proving the same control). Returns the findings and the
    indexes of the waivers that matched.
    """
    live = [w for w in waivers if w.live_on(today)]
    mirrors = {rule_id: info.mirrors for rule_id, info in rule_catalogue().items()}
    used: set[int] = set()
    result: list[Finding] = []
    for finding in findings:
        also = mirrors.get(finding.rule_id, ())
        waiver = next((w for w in live if w.matches(finding, also)), None)
        if waiver is not None:
            used.add(waiver.index)
            finding = finding.suppress(f"{waiver.rationale} ({waiver.adr})", waiver.relaxes)
        result.append(finding)
    return result, used


def apply(
    findings: Iterable[Finding],
    waivers: Sequence[Waiver],
    today: dt.date,
    rendered_services: Collection[str] | None = None,
) -> list[Finding]:
    """Suppress findings matched by live waivers; add EXC-002/EXC-003 for the registry.

    Staleness is judged only for waivers whose service is in ``rendered_services``
    (all waivers when it is None).
    """
    result, used = waive(findings, waivers, today)
    for waiver in waivers:
        if not waiver.live_on(today):
            result.append(
                _meta("EXC-002", f"{waiver.label} expired on {waiver.expires}", str(waiver.index))
            )
        elif waiver.index not in used and (
            rendered_services is None or waiver.service in rendered_services
        ):
            result.append(_meta("EXC-003", f"{waiver.label} matches no finding", str(waiver.index)))
    return result
