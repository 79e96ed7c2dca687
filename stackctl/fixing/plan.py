"""What ``fix`` would change: each fixable finding as an edit of the file its value comes from.

A value every service must have (cap_drop ALL, no-new-privileges, init) goes to
the template the service inherits it from when one can carry it: a template
that already holds the service's hardening, else one several services share,
and only when no service of that template would change in a way its rule does
not ask for (an excepted finding, an image whose facts say it needs what the
fix takes away). Otherwise it goes where the service is defined (the first
``-f`` file, or the included file). A value written in the wrong way (a port on
every interface, a ``version:`` key) is changed where it is written. When
compose could take the value from several places, or a person wrote it on
purpose, the finding is refused with the reason and nothing is changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks import exceptions
from checks.capabilities import normalise_capability
from checks.catalogue import model_rules
from checks.compose_files import parse_env_file
from checks.evaluator import evaluate
from checks.finding import Finding
from checks.fixes import (
    FIXES,
    SERVICE_VALUES,
    FindingFix,
    Port,
    Refused,
    ServiceValue,
    TextEdit,
    apply_edits,
    bind_ports_to_loopback,
    changes_of,
    drop_top_level_key,
    name_external,
    set_service_value,
)
from checks.stack import ProjectFacts
from stackctl.fixing.origin import Chain, Place, chains, users, writes, written
from stackctl.fixing.templates import logging_fix, size_fix

# Root capabilities an entrypoint that switches user (gosu, su-exec) needs to do it.
SWITCHING = frozenset({"SETUID", "SETGID"})
# The logging template's value, judged like a value compose overrides (the nearest wins).
LOGGING = ServiceValue("LOG-001", "logging", "scalar", "loki", frozenset({"logging"}), "")


@dataclass(frozen=True)
class Proposal:
    """One edit set in one file, and every finding it repairs."""

    rule_id: str
    file: str
    edits: tuple[TextEdit, ...]
    findings: tuple[Finding, ...]
    description: str

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(f.fingerprint for f in self.findings)


@dataclass(frozen=True)
class Refusal:
    finding: Finding
    reason: str


@dataclass
class FixPlan:
    proposals: list[Proposal] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # file -> the text edits point into

    def new_texts(self, proposals: Iterable[Proposal] | None = None) -> dict[str, str]:
        """File -> text after the given proposals (default: all), for the files they change."""
        chosen = self.proposals if proposals is None else list(proposals)
        by_file: dict[str, list[TextEdit]] = {}
        for proposal in chosen:
            by_file.setdefault(proposal.file, []).extend(proposal.edits)
        return {file: apply_edits(self.texts[file], edits) for file, edits in by_file.items()}

    def diff(self, proposals: Iterable[Proposal] | None = None) -> str:
        """A unified diff of the given proposals (default: all), file by file."""
        parts: list[str] = []
        for file, text in sorted(self.new_texts(proposals).items()):
            parts += difflib.unified_diff(
                self.texts[file].splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"a/{file}",
                f"b/{file}",
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in parts)

    def finding_fixes(self) -> dict[str, FindingFix]:
        """Fingerprint -> what fix would do for that finding (for JSON, SARIF, the table)."""
        fixes: dict[str, FindingFix] = {}
        for proposal in self.proposals:
            changes = changes_of(proposal.file, self.texts[proposal.file], proposal.edits)
            for finding in proposal.findings:
                fixes[finding.fingerprint] = FindingFix(proposal.description, changes)
        return fixes


# -- reading the files ---------------------------------------------------------------------


def _read(directory: Path, file: str, facts: ProjectFacts) -> str:
    """The file's text as it is now; refused unless it is the regular UTF-8 file checked."""
    path = directory / file
    if Path(file).is_absolute() or file.startswith("../"):
        raise Refused(f"{file} is outside the project; fix edits only the project's files")
    if path.is_symlink() or not path.is_file():
        raise Refused(f"{file} is not a regular file in the project")
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Refused(f"{file} cannot be read as UTF-8 ({error.__class__.__name__})") from None
    if text != facts.texts.get(file):
        raise Refused(f"{file} changed since it was checked")
    return text


def env_values(env_file: Path | None) -> dict[str, str]:
    """The variables compose interpolates with in a static project: the env file's."""
    if env_file is None or not env_file.is_file():
        return {}
    try:
        return parse_env_file(env_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


# -- judging a place -----------------------------------------------------------------------


@dataclass
class _Context:
    directory: Path
    facts: ProjectFacts
    model: Mapping[str, Any]
    env: Mapping[str, str]
    chains: dict[str, Chain]
    users: dict[Place, set[str]]
    status: dict[tuple[str, str], str]  # (rule, service) -> "open" | "excepted"
    texts: dict[str, str] = field(default_factory=dict)

    def text(self, file: str) -> str:
        if file not in self.texts:
            self.texts[file] = _read(self.directory, file, self.facts)
        return self.texts[file]

    def spec(self, service: str) -> Mapping[str, Any]:
        spec = (self.model.get("services") or {}).get(service)
        return spec if isinstance(spec, Mapping) else {}


def _needs(context: _Context, fix: ServiceValue, service: str) -> str:
    """Why taking ``fix``'s value on ``service`` is for a person to judge ("" when it is not)."""
    spec = context.spec(service)
    record = context.facts.images.get(str(spec.get("image") or ""))
    if record is None:
        return ""
    if fix.rule_id == "PRIV-001":
        needed = {c for fc in record.file_capabilities for c in fc.capabilities}
        user = str(spec.get("user") or "").split(":")[0]
        if user in {"", "0", "root"} and record.entrypoint.switches_with not in {"none", "s6"}:
            needed |= SWITCHING | ({"CHOWN"} if record.entrypoint.chowns else set())
        added = {normalise_capability(c) for c in spec.get("cap_add") or []}
        missing = sorted(needed - added)
        if missing:
            return (
                f"the image's facts ({record.file}) say it needs {', '.join(missing)}; "
                "dropping ALL without adding them back would stop it"
            )
    if fix.rule_id == "PRIV-003" and record.entrypoint.switches_with == "s6":
        return f"the image's facts ({record.file}) say s6 must run as PID 1"
    return ""


def _blocks(context: _Context, fix: ServiceValue, place: Place, service: str) -> str:
    """Why writing at ``place`` would change ``service`` in a way nobody asked ("" if not)."""
    chain = context.chains.get(service)
    if chain is None:
        return ""
    if fix.kind == "scalar" and any(writes(context.facts, p, fix.key) for p in chain.above(place)):
        return ""  # a nearer place writes it: this one does not reach the service
    status = context.status.get((fix.rule_id, service))
    if status == "excepted":
        return f"{service}'s {fix.rule_id} finding is a registered exception"
    if status == "open":
        return _needs(context, fix, service)
    return ""


def _choose(context: _Context, fix: ServiceValue, chain: Chain) -> Place:
    if chain.home is None:
        raise Refused(f"ambiguous: {chain.why_no_home}; say in one place where it is defined")
    found = [p for p in chain.places if writes(context.facts, p, fix.key)]
    if fix.kind == "scalar" and found:
        value = written(context.facts, found[0], fix.key)
        raise Refused(f"{fix.key}: {value!r} is written in {found[0]}; a person chose it")
    reason = _needs(context, fix, chain.service)
    if reason:
        raise Refused(reason)
    eligible = [
        place
        for place in chain.places
        if place in chain.templates
        and not any(_blocks(context, fix, place, u) for u in context.users.get(place, ()))
    ]
    family = [p for p in eligible if any(writes(context.facts, p, k) for k in fix.family)]
    shared = [p for p in eligible if len(context.users.get(p, ())) > 1]
    if family:
        return family[-1]  # the one nearest the root of the chain
    if shared:
        return shared[-1]
    home_users = context.users.get(chain.home, set())
    blocked = [u for u in home_users if _blocks(context, fix, chain.home, u)]
    if blocked:
        raise Refused(f"{chain.home} is also a template of {', '.join(sorted(blocked))}")
    return chain.home


# -- the plan ------------------------------------------------------------------------------


def _status(
    facts: ProjectFacts, model: Mapping[str, Any], rule_ids: Collection[str], directory: Path
) -> dict[tuple[str, str], str]:
    """Each service's state for each rule over the whole model, exceptions applied."""
    rules = [rule for rule_id, rule in model_rules().items() if rule_id in rule_ids]
    waivers, _ = exceptions.load(directory)
    evaluation = evaluate([facts.stack(model, ("*",))], waivers, rules=rules)
    return {
        (f.rule_id, f.service): "excepted" if f.suppressed else "open"
        for f in evaluation.findings
        if f.service
    }


def _ports(context: _Context, finding: Finding) -> list[Port]:
    published, _, protocol = finding.subject.partition("/")
    return [
        Port(published, str(port.get("target")), str(port.get("protocol") or "tcp"))
        for port in context.spec(finding.service).get("ports") or []
        if isinstance(port, Mapping)
        and str(port.get("published")) == published
        and str(port.get("protocol") or "tcp") == (protocol or "tcp")
    ]


def _port_edits(context: _Context, finding: Finding) -> dict[str, list[TextEdit]]:
    chain = context.chains.get(finding.service)
    wanted = _ports(context, finding)
    if chain is None or not wanted:
        raise Refused("the published port is not in the rendered model")
    edits: dict[str, list[TextEdit]] = {}
    for place in chain.places:
        if not writes(context.facts, place, "ports"):
            continue
        found = bind_ports_to_loopback(context.text(place.file), place.name, wanted, context.env)
        if found and len(context.users.get(place, {finding.service}) | {finding.service}) > 1:
            raise Refused(f"the port is written in {place}, a template several services share")
        if found:
            edits.setdefault(place.file, []).extend(found)
    if not edits:
        raise Refused(f"no port entry publishing {finding.subject} was found in the files")
    return edits


class _Builder:
    def __init__(self, context: _Context) -> None:
        self.context = context
        self.grouped: dict[tuple[str, str, tuple[TextEdit, ...]], list[Finding]] = {}
        self.descriptions: dict[tuple[str, str, tuple[TextEdit, ...]], str] = {}
        self.refusals: list[Refusal] = []

    def add(self, finding: Finding, file: str, edits: Sequence[TextEdit], description: str) -> None:
        key = (finding.rule_id, file, tuple(edits))
        self.grouped.setdefault(key, []).append(finding)
        self.descriptions.setdefault(key, description)

    def service_value(self, finding: Finding, fix: ServiceValue) -> None:
        chain = self.context.chains.get(finding.service)
        if chain is None:
            raise Refused(f"{finding.service} is not in the rendered model")
        place = _choose(self.context, fix, chain)
        edit = set_service_value(self.context.text(place.file), place.name, fix)
        where = "template" if place in chain.templates else "service"
        self.add(finding, place.file, [edit], f"{fix.summary} in {where} {place}")

    def finding(self, finding: Finding) -> None:
        context = self.context
        if finding.rule_id in SERVICE_VALUES:
            if finding.subject == "false":
                raise Refused("no-new-privileges is disabled on purpose; a person chose it")
            self.service_value(finding, SERVICE_VALUES[finding.rule_id])
        elif finding.rule_id == "HYG-002":
            for file, edits in _port_edits(context, finding).items():
                self.add(finding, file, edits, f"{FIXES['HYG-002']} in {file}")
        elif finding.rule_id in {"RES-001", "LOG-001"}:
            self.template(finding)
        elif finding.rule_id == "COMPOSE-002":
            self.obsolete(finding)

    def obsolete(self, finding: Finding) -> None:
        """The version: key goes; a deprecated external.name becomes name plus external."""
        if finding.subject.startswith("version:"):
            file = finding.subject.removeprefix("version:")
            edit = drop_top_level_key(self.context.text(file), "version")
            self.add(finding, file, [edit], f"delete the obsolete version: key from {file}")
            return
        section, _, name = finding.subject.partition(".")
        if "external.name" not in finding.message or not name:
            raise Refused("only version: and external.name are rewritten mechanically")
        edits = name_external(self.context.text(finding.source), section, name)
        description = f"write {finding.subject} as name: plus external: true in {finding.source}"
        self.add(finding, finding.source, edits, description)

    def template(self, finding: Finding) -> None:
        context = self.context
        chain = context.chains.get(finding.service)
        if chain is None or chain.home is None:
            raise Refused(chain.why_no_home if chain else "it is not in the rendered model")
        if finding.rule_id == "RES-001":
            own = next((p for p in chain.places if p not in chain.templates), chain.home)
            shared_by = context.users.get(own, set())
            fix = size_fix(context.facts, chain, shared_by, context.text)
        else:
            root = chain.places[-1]
            blocked = sorted(
                u for u in context.users.get(root, ()) if _blocks(context, LOGGING, root, u)
            )
            fix = logging_fix(context.facts, chain, blocked, context.text)
        self.add(finding, fix.file, [fix.edit], fix.description)

    def proposals(self) -> list[Proposal]:
        return [
            Proposal(rule_id, file, edits, tuple(findings), self.descriptions[key])
            for key, findings in self.grouped.items()
            for rule_id, file, edits in [key]
        ]


def plan_fixes(
    directory: Path,
    facts: ProjectFacts,
    model: Mapping[str, Any],
    findings: Sequence[Finding],
    *,
    env: Mapping[str, str] | None = None,
    rules: Collection[str] | None = None,
) -> FixPlan:
    """Every open finding of a fixable rule (in ``rules``, default all) as a proposal or a
    refusal. ``model`` is the full render (every profile), ``findings`` the check's."""
    wanted = [
        f
        for f in findings
        if not f.suppressed and f.rule_id in FIXES and (rules is None or f.rule_id in rules)
    ]
    services = list((model.get("services") or {}).keys())
    all_chains = chains(facts, services)
    context = _Context(
        directory,
        facts,
        model,
        env or {},
        all_chains,
        users(all_chains),
        _status(facts, model, {f.rule_id for f in wanted}, directory) if wanted else {},
    )
    builder = _Builder(context)
    for finding in wanted:
        try:
            builder.finding(finding)
        except Refused as why:
            builder.refusals.append(Refusal(finding, str(why)))
        except RecursionError:
            builder.refusals.append(Refusal(finding, "the file nests too deep to edit safely"))
    proposals = builder.proposals()
    plan = FixPlan(proposals, builder.refusals, dict(context.texts))
    return _drop_unappliable(plan)


def _drop_unappliable(plan: FixPlan) -> FixPlan:
    """Proposals whose edits collide, or whose file would lose a comment, become refusals."""
    from checks.fixes import lost_comments

    kept: list[Proposal] = []
    refusals = list(plan.refusals)
    for proposal in plan.proposals:
        try:
            after = plan.new_texts([*kept, proposal])
            lost = lost_comments(plan.texts[proposal.file], after[proposal.file])
        except Refused as why:
            refusals += [Refusal(f, str(why)) for f in proposal.findings]
            continue
        if lost:
            refusals += [
                Refusal(f, f"the edit would lose a comment ({lost[0]})") for f in proposal.findings
            ]
            continue
        kept.append(proposal)
    return FixPlan(kept, refusals, plan.texts)
