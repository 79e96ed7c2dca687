"""Runtime truth: what the engine runs, compared with what the rendered model declares.

For every container of the project (and every container on its networks that
compose did not create) the engine's ``inspect``, PID 1's ``/proc/<pid>/status``
and the cgroup limits are compared with the service as ``docker compose config``
renders it. Each difference is a :class:`checks.finding.Finding` traced to the
spec requirement the lost control serves, so reports, waivers and exit codes
work exactly as for the static checks.

Collection (:func:`observe`) talks to the engine and the host; every comparison
(:func:`compare`, :func:`unmanaged`) is a pure function over (declared, observed).
Secret files are only ``stat``-ed, never read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks import exceptions
from checks.capabilities import (
    DOCKER_DEFAULT_CAPABILITIES,
    capability_names,
    normalise_capability,
)
from checks.catalogue import rules_of_kind
from checks.conventions import HASH_LABEL, PROJECT_LABEL, SERVICE_LABEL
from checks.finding import Finding, Severity
from checks.limits import declared_limit, parse_size
from stackctl import reporting as report
from stackctl.errors import RenderError
from stackctl.project.compose import Compose, first_error_line
from stackctl.project.render import Model
from stackctl.project.secret_specs import specs_from_model

# The runtime checks, in report order (declared in checks.rules.runtime).
RUNTIME_CHECKS = rules_of_kind("runtime")
# Findings below this severity are shown but do not fail (e.g. "cannot read /proc").
FAIL_AT = Severity.MEDIUM


UNLIMITED_MEMORY = 1 << 62  # cgroup v1 reports "no limit" as a page-rounded 2**63-1


# -- what the engine and the host report ---------------------------------------------


@dataclass(frozen=True)
class ProcessFacts:
    """PID 1 of a container as ``/proc/<pid>/status`` describes it."""

    source: str  # "host /proc" or "exec in the container"
    name: str
    uid: int | None
    effective: frozenset[str]
    no_new_privs: bool | None


@dataclass(frozen=True)
class CgroupLimits:
    memory: int | None = None  # bytes; None when unlimited
    cpus: float | None = None
    pids: int | None = None
    source: str = "engine"  # "cgroup" when read from the container's cgroup files


@dataclass(frozen=True)
class FileFacts:
    mode: int
    uid: int
    gid: int


@dataclass
class Observed:
    """Everything known about one container; ``attrs`` is the engine's inspect output."""

    attrs: dict[str, Any]
    process: ProcessFacts | None = None
    process_error: str = ""
    limits: CgroupLimits = field(default_factory=CgroupLimits)
    files: dict[str, FileFacts | None] = field(default_factory=dict)  # secret mount sources
    image_digests: tuple[str, ...] = ()
    tag_image_id: str | None = None  # what the declared reference names locally now

    @property
    def name(self) -> str:
        return str(self.attrs.get("Name", "?")).lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = (self.attrs.get("Config") or {}).get("Labels") or {}
        return labels

    @property
    def host(self) -> dict[str, Any]:
        host: dict[str, Any] = self.attrs.get("HostConfig") or {}
        return host


@dataclass(frozen=True)
class Expected:
    """One service as the rendered model declares it."""

    service: str
    spec: Mapping[str, Any]
    config_hash: str | None = None
    network_names: Mapping[str, str] = field(default_factory=dict)  # model key -> engine name
    secret_owners: Mapping[str, tuple[int, int] | None] = field(default_factory=dict)


def parse_proc_status(text: str, source: str) -> ProcessFacts:
    """The fields of ``/proc/<pid>/status`` that hardening is about."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    uid_text = fields.get("Uid", "").split()
    nnp = fields.get("NoNewPrivs")
    return ProcessFacts(
        source=source,
        name=fields.get("Name", ""),
        uid=int(uid_text[1]) if len(uid_text) > 1 else None,  # the effective uid
        effective=capability_names(int(fields.get("CapEff", "0"), 16)),
        no_new_privs=None if nnp is None else nnp == "1",
    )


def declared_limits(spec: Mapping[str, Any]) -> CgroupLimits:
    memory = parse_size(declared_limit(spec, "memory") or None) or None
    cpus_value = declared_limit(spec, "cpus")
    pids_value = declared_limit(spec, "pids")
    return CgroupLimits(
        memory=memory,
        cpus=float(cpus_value) if cpus_value not in (None, "", 0) else None,
        pids=int(pids_value) if pids_value not in (None, "", 0, -1) else None,
        source="model",
    )


def engine_limits(host: Mapping[str, Any]) -> CgroupLimits:
    """The limits the engine says it applied (when the cgroup cannot be read)."""
    cpus = None
    if host.get("NanoCpus"):
        cpus = int(host["NanoCpus"]) / 1e9
    elif host.get("CpuQuota") and host.get("CpuPeriod"):
        cpus = int(host["CpuQuota"]) / int(host["CpuPeriod"])
    pids = host.get("PidsLimit")
    return CgroupLimits(
        memory=int(host["Memory"]) if host.get("Memory") else None,
        cpus=cpus,
        pids=int(pids) if pids and int(pids) > 0 else None,
        source="engine",
    )


# -- pure comparisons ---------------------------------------------------------------


class Collector:
    """Builds findings for one container; the container's name leads each message."""

    def __init__(self, service: str, container: str) -> None:
        self.service, self.container = service, container
        self.findings: list[Finding] = []

    def add(
        self, check_id: str, message: str, subject: str = "", severity: Severity | None = None
    ) -> None:
        info = RUNTIME_CHECKS[check_id]
        self.findings.append(
            Finding(
                check_id,
                info.requirement,
                severity if severity is not None else info.severity,
                self.service,
                f"{self.container}: {message}",
                info.hint.replace("SERVICE", self.service or "SERVICE"),
                f"container {self.container}",
                subject=subject or self.container,
            )
        )

    def cannot_read(self, check_id: str, what: str) -> None:
        self.add(check_id, f"cannot verify: {what}", subject="unverified", severity=Severity.LOW)


def _check_state(out: Collector, spec: Mapping[str, Any], state: Mapping[str, Any]) -> None:
    status = str(state.get("Status", "unknown"))
    if status == "exited" and str(spec.get("restart", "no")) == "no":
        if int(state.get("ExitCode", 1)) != 0:
            out.add("RUN-001", f"one-shot job exited with {state.get('ExitCode')}")
        return
    if status != "running":
        out.add("RUN-001", f"is {status}, not running")
        return
    health = (state.get("Health") or {}).get("Status")
    declared = spec.get("healthcheck") or {}
    if declared and not declared.get("disable") and health != "healthy":
        out.add("RUN-001", f"health is {health or 'not reported'}, not healthy")


def _check_capabilities(
    out: Collector, spec: Mapping[str, Any], observed: Observed, privileged: bool
) -> None:
    declared_drop = {normalise_capability(c) for c in spec.get("cap_drop") or []}
    declared_add = {normalise_capability(c) for c in spec.get("cap_add") or []}
    engine_drop = {normalise_capability(c) for c in observed.host.get("CapDrop") or []}
    engine_add = {normalise_capability(c) for c in observed.host.get("CapAdd") or []}
    for cap in sorted(declared_drop - engine_drop):
        out.add("RUN-002", f"does not drop {cap} (declared in cap_drop)", subject=cap)
    for cap in sorted(engine_add - declared_add):
        out.add("RUN-002", f"adds {cap}, which the model does not declare", subject=cap)
    if privileged:
        return  # privileged grants everything; RUN-005 says so already
    if observed.process is None:
        out.cannot_read("RUN-003", f"PID 1's capabilities ({observed.process_error})")
        return
    allowed = set() if "ALL" in declared_drop else set(DOCKER_DEFAULT_CAPABILITIES)
    allowed = (allowed - declared_drop) | declared_add
    if "ALL" in declared_add:
        return
    for cap in sorted(observed.process.effective - allowed):
        out.add("RUN-003", f"PID 1 holds CAP_{cap}, which the model does not grant", subject=cap)


def _declares_no_new_privileges(spec: Mapping[str, Any]) -> bool:
    options = [str(o).strip().lower().replace("=", ":") for o in spec.get("security_opt") or []]
    wanted = [o for o in options if o.startswith("no-new-privileges")]
    return bool(wanted) and wanted[-1] in ("no-new-privileges", "no-new-privileges:true")


def _check_no_new_privileges(out: Collector, spec: Mapping[str, Any], observed: Observed) -> None:
    if not _declares_no_new_privileges(spec):
        return
    options = [str(o).lower().replace("=", ":") for o in observed.host.get("SecurityOpt") or []]
    if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in options):
        out.add("RUN-004", "the engine did not apply no-new-privileges", subject="security_opt")
    if observed.process is None:
        out.cannot_read("RUN-004", f"PID 1's NoNewPrivs ({observed.process_error})")
    elif observed.process.no_new_privs is False:
        out.add("RUN-004", "PID 1 runs with NoNewPrivs: 0", subject="NoNewPrivs")


def _check_init_and_root(out: Collector, spec: Mapping[str, Any], observed: Observed) -> None:
    if bool(observed.host.get("Privileged")) and not spec.get("privileged"):
        out.add("RUN-005", "runs privileged, which the model does not declare")
    if spec.get("init"):
        if not observed.host.get("Init"):
            out.add("RUN-006", "runs without init (declared init: true)")
        elif observed.process is not None and observed.process.name != "docker-init":
            out.add("RUN-006", f"PID 1 is {observed.process.name!r}, not docker-init")
    if spec.get("read_only") and not observed.host.get("ReadonlyRootfs"):
        out.add("RUN-007", "root filesystem is writable (declared read_only: true)")


def _check_limits(out: Collector, spec: Mapping[str, Any], observed: Observed) -> None:
    declared, actual = declared_limits(spec), observed.limits
    where = "cgroup" if actual.source == "cgroup" else "engine"
    if declared.memory is not None and actual.memory != declared.memory:
        shown = "none" if actual.memory is None else f"{actual.memory} bytes"
        out.add("RUN-008", f"memory limit in the {where} is {shown}, declared {declared.memory}")
    if declared.cpus is not None and (
        actual.cpus is None or abs(actual.cpus - declared.cpus) > 0.001
    ):
        shown = "none" if actual.cpus is None else f"{actual.cpus:g}"
        out.add("RUN-009", f"CPU limit in the {where} is {shown}, declared {declared.cpus:g}")
    if declared.pids is not None and actual.pids != declared.pids:
        shown = "none" if actual.pids is None else str(actual.pids)
        out.add("RUN-010", f"pids limit in the {where} is {shown}, declared {declared.pids}")


def _declared_uid(user: str) -> int | None:
    uid = user.partition(":")[0]
    return int(uid) if uid.isdigit() else None


def _check_user(out: Collector, spec: Mapping[str, Any], observed: Observed) -> None:
    declared = str(spec.get("user") or "")
    if not declared:
        return
    actual = str((observed.attrs.get("Config") or {}).get("User") or "")
    if actual != declared:
        out.add("RUN-011", f"runs as user {actual or 'of the image'!r}, declared {declared!r}")
    uid = _declared_uid(declared)
    if uid is None:
        return
    if observed.process is None:
        out.cannot_read("RUN-011", f"PID 1's uid ({observed.process_error})")
    elif observed.process.uid != uid:
        out.add("RUN-011", f"PID 1 runs as uid {observed.process.uid}, declared {uid}")


def _check_secrets(out: Collector, expected: Expected, observed: Observed) -> None:
    mounts = {str(m.get("Destination")): m for m in observed.attrs.get("Mounts") or []}
    process_uid = observed.process.uid if observed.process else None
    for entry in expected.spec.get("secrets") or []:
        source = str(entry.get("source") if isinstance(entry, Mapping) else entry)
        target = str(entry.get("target") or source) if isinstance(entry, Mapping) else source
        if not target.startswith("/"):
            target = f"/run/secrets/{target}"
        mount = mounts.get(target)
        if mount is None:
            out.add("RUN-012", f"secret {source} is not mounted at {target}", subject=source)
            continue
        if mount.get("RW"):
            out.add("RUN-012", f"secret {source} is mounted writable", subject=source)
        facts = observed.files.get(str(mount.get("Source")))
        if facts is None:
            out.cannot_read("RUN-012", f"mode and owner of secret {source}")
            continue
        if facts.mode & 0o077:
            out.add(
                "RUN-012",
                f"secret {source} is mode {facts.mode:04o} on the host (group/others can read)",
                subject=source,
            )
        owner = expected.secret_owners.get(source)
        if owner is not None and (facts.uid, facts.gid) != owner:
            out.add(
                "RUN-012",
                f"secret {source} belongs to {facts.uid}:{facts.gid},"
                f" declared {owner[0]}:{owner[1]}",
                subject=source,
            )
        elif process_uid not in (None, 0, facts.uid) and not facts.mode & 0o004:
            out.add(
                "RUN-012",
                f"secret {source} belongs to uid {facts.uid}; PID 1 (uid {process_uid}) "
                "cannot read it",
                subject=source,
                severity=Severity.MEDIUM,
            )


def _check_logging(out: Collector, spec: Mapping[str, Any], observed: Observed) -> None:
    declared = (spec.get("logging") or {}).get("driver")
    actual = (observed.host.get("LogConfig") or {}).get("Type")
    if declared and actual != declared:
        out.add("RUN-013", f"logs through {actual!r}, declared {declared!r}")


def _check_networks(out: Collector, expected: Expected, observed: Observed) -> None:
    attached: dict[str, Any] = (observed.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    if str(observed.host.get("NetworkMode", "")) in ("host", "none"):
        return  # host/none networking is a static finding (NET-005), nothing to compare
    declared = {expected.network_names.get(key, key) for key in expected.spec.get("networks") or {}}
    for name in sorted(declared - set(attached)):
        out.add("RUN-014", f"is not attached to network {name}", subject=name)
    for name in sorted(set(attached) - declared):
        out.add("RUN-014", f"is attached to undeclared network {name}", subject=name)
    for name, settings in sorted(attached.items()):
        ipam = (settings or {}).get("IPAMConfig") or {}
        for key in ("IPv4Address", "IPv6Address"):
            if ipam.get(key):
                out.add("RUN-014", f"has a static address on {name}", subject=f"{name} {key}")


def _check_image(out: Collector, spec: Mapping[str, Any], observed: Observed) -> None:
    reference = str(spec.get("image") or "")
    if not reference:
        return
    if "@sha256:" in reference:
        digest = reference.rpartition("@")[2]
        if not any(d.endswith("@" + digest) for d in observed.image_digests):
            out.add("RUN-015", f"does not run the pinned digest {digest[:19]}…", subject=reference)
        return
    running = str(observed.attrs.get("Image", ""))
    if observed.tag_image_id is None:
        out.cannot_read("RUN-015", f"{reference} is no longer present locally")
    elif running != observed.tag_image_id:
        out.add("RUN-015", f"runs an older image than {reference} names now", subject=reference)


def compare(expected: Expected, observed: Observed) -> list[Finding]:
    """Every runtime check for one container of a declared service."""
    out = Collector(expected.service, observed.name)
    spec = expected.spec
    state = observed.attrs.get("State") or {}
    _check_state(out, spec, state)
    privileged = bool(observed.host.get("Privileged"))
    _check_capabilities(out, spec, observed, privileged)
    _check_no_new_privileges(out, spec, observed)
    _check_init_and_root(out, spec, observed)
    _check_limits(out, spec, observed)
    _check_user(out, spec, observed)
    _check_secrets(out, expected, observed)
    _check_logging(out, spec, observed)
    _check_networks(out, expected, observed)
    _check_image(out, spec, observed)
    actual_hash = observed.labels.get(HASH_LABEL)
    if actual_hash is None:
        out.add("RUN-017", "has no config-hash label: compose did not create it")
    elif expected.config_hash and actual_hash != expected.config_hash:
        out.add("RUN-016", "was created from an older configuration of the service")
    return out.findings


def unmanaged(
    attrs: Mapping[str, Any], project: str, known_services: Iterable[str]
) -> list[Finding]:
    """Findings for a container that is not a compose container of a declared service."""
    observed = Observed(dict(attrs))
    labels = observed.labels
    out = Collector(labels.get(SERVICE_LABEL, ""), observed.name)
    if labels.get(PROJECT_LABEL) != project:
        out.add(
            "RUN-017",
            f"is attached to the network of project {project} but compose did not create it",
        )
    elif SERVICE_LABEL not in labels:
        out.add("RUN-017", "carries the project label but no service label")
    elif labels[SERVICE_LABEL] not in set(known_services):
        out.add(
            "RUN-017",
            f"belongs to service {labels[SERVICE_LABEL]!r}, which the stack no longer declares",
        )
    return out.findings


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[exceptions.Waiver], today: dt.date
) -> list[Finding]:
    """Suppress runtime findings that a live exception covers (by its rule or requirement).

    An exception written for a static rule (say PRIV-005 for one capability) also
    covers the runtime check that enforces the same control.
    """
    live = [w for w in waivers if w.expires is None or w.expires >= today]
    result = []
    for finding in findings:
        runtime_rule = RUNTIME_CHECKS.get(finding.rule_id)
        rules = {finding.rule_id, *(runtime_rule.mirrors if runtime_rule else ())}
        for waiver in live:
            if waiver.service != finding.service:
                continue
            if waiver.rule and waiver.rule not in rules:
                continue
            if waiver.requirement and waiver.requirement != finding.requirement:
                continue
            if waiver.subjects and finding.subject not in waiver.subjects:
                continue
            finding = finding.suppress(f"{waiver.rationale} ({waiver.adr})")
            break
        result.append(finding)
    return result


# -- collection (engine and host) ------------------------------------------------------


def _read_host_proc(pid: int, container_id: str) -> str | None:
    """PID 1's status from the host's /proc, if that pid really is this container's."""
    proc = Path("/proc") / str(pid)
    try:
        cgroups = (proc / "cgroup").read_text()
        if container_id not in cgroups:
            return None  # another pid namespace: the engine's pid means nothing here
        return (proc / "status").read_text()
    except OSError:
        return None


def _exec_proc_status(client: Any, container_id: str) -> tuple[str | None, str]:
    """``cat /proc/1/status`` inside the container; the image may lack ``cat``."""
    from docker.errors import APIError

    try:
        exec_id = client.api.exec_create(container_id, ["cat", "/proc/1/status"])["Id"]
        output = client.api.exec_start(exec_id)
        code = client.api.exec_inspect(exec_id).get("ExitCode")
    except APIError as error:
        return None, f"exec failed: {getattr(error, 'explanation', None) or error}"
    if code != 0:
        return None, "the image has no `cat` to read /proc/1/status"
    return bytes(output).decode("utf-8", errors="replace"), ""


def _cgroup_paths(pid: int) -> dict[str, str]:
    paths: dict[str, str] = {}
    try:
        text = (Path("/proc") / str(pid) / "cgroup").read_text()
    except OSError:
        return paths
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else ["unified"]:
                paths[controller] = parts[2]
    return paths


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def read_cgroup_limits(pid: int, root: Path = Path("/sys/fs/cgroup")) -> CgroupLimits | None:
    """The limits in force, from the container's cgroup files (v1 or v2); None if unreadable."""
    paths = _cgroup_paths(pid)
    if not paths:
        return None
    if "memory" in paths:  # cgroup v1: one hierarchy per controller
        memory = _read_int(root / "memory" / paths["memory"].lstrip("/") / "memory.limit_in_bytes")
        pids = _read_int(root / "pids" / paths.get("pids", "").lstrip("/") / "pids.max")
        cpu_dir = root / "cpu" / paths.get("cpu", "").lstrip("/")
        quota, period = (
            _read_int(cpu_dir / "cpu.cfs_quota_us"),
            _read_int(cpu_dir / "cpu.cfs_period_us"),
        )
        if memory is None and pids is None and quota is None:
            return None
        return CgroupLimits(
            memory=memory if memory is not None and memory < UNLIMITED_MEMORY else None,
            cpus=quota / period if quota and quota > 0 and period else None,
            pids=pids,
            source="cgroup",
        )
    unified = root / paths.get("unified", "/").lstrip("/")
    try:
        memory_text = (unified / "memory.max").read_text().strip()
        pids_text = (unified / "pids.max").read_text().strip()
        cpu_text = (unified / "cpu.max").read_text().split()
    except OSError:
        return None
    cpus = None
    if len(cpu_text) == 2 and cpu_text[0] != "max":
        cpus = int(cpu_text[0]) / int(cpu_text[1])
    return CgroupLimits(
        memory=int(memory_text) if memory_text.isdigit() else None,
        cpus=cpus,
        pids=int(pids_text) if pids_text.isdigit() else None,
        source="cgroup",
    )


def _file_facts(source: str) -> FileFacts | None:
    try:
        info = Path(source).stat()  # metadata only: a secret is never opened
    except OSError:
        return None
    return FileFacts(info.st_mode & 0o7777, info.st_uid, info.st_gid)


def observe(client: Any, container_id: str, declared_image: str = "") -> Observed:
    """Inspect one container and read what the host can tell about its PID 1."""
    from docker.errors import APIError, NotFound

    attrs: dict[str, Any] = client.api.inspect_container(container_id)
    observed = Observed(attrs)
    state = attrs.get("State") or {}
    pid = int(state.get("Pid") or 0)
    if state.get("Status") == "running" and pid > 0:
        text = _read_host_proc(pid, str(attrs.get("Id", "")))
        if text is not None:
            observed.process = parse_proc_status(text, "host /proc")
            observed.limits = read_cgroup_limits(pid) or engine_limits(observed.host)
        else:
            text, observed.process_error = _exec_proc_status(client, container_id)
            if text is not None:
                observed.process = parse_proc_status(text, "exec in the container")
            observed.limits = engine_limits(observed.host)
    else:
        observed.process_error = "the container is not running"
        observed.limits = engine_limits(observed.host)
    for mount in attrs.get("Mounts") or []:
        if str(mount.get("Destination", "")).startswith("/run/secrets/"):
            observed.files[str(mount.get("Source"))] = _file_facts(str(mount.get("Source")))
    try:
        image = client.api.inspect_image(attrs.get("Image"))
        observed.image_digests = tuple(image.get("RepoDigests") or ())
    except (NotFound, APIError):
        pass
    if declared_image and "@sha256:" not in declared_image:
        try:
            observed.tag_image_id = str(client.api.inspect_image(declared_image).get("Id"))
        except (NotFound, APIError):
            observed.tag_image_id = None
    return observed


def service_hashes(compose: Compose) -> dict[str, str]:
    """Compose's config hash of every service of every profile (``config --hash '*'``)."""
    done = compose.run(["config", "--hash", "*"], ["*"])
    if done.returncode != 0:
        raise RenderError(first_error_line(done.stderr) or "docker compose config --hash failed")
    hashes = {}
    for line in done.stdout.splitlines():
        name, _, value = line.strip().partition(" ")
        if name and value:
            hashes[name] = value.strip()
    return hashes


@dataclass
class Verification:
    """The outcome for one project: the containers looked at and what differs."""

    project: str
    containers: list[tuple[str, str]]  # (container, service)
    findings: list[Finding]

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed and f.severity >= FAIL_AT]

    @property
    def ok(self) -> bool:
        return not self.failing


def expectations(model: Model, hashes: Mapping[str, str]) -> dict[str, Expected]:
    project = str(model.data.get("name", ""))
    networks = {
        key: str((spec or {}).get("name") or f"{project}_{key}")
        for key, spec in (model.data.get("networks") or {}).items()
    }
    owners = {spec.name: spec.owner for spec in specs_from_model(model.data)}
    return {
        name: Expected(name, spec, hashes.get(name), networks, owners)
        for name, spec in model.services.items()
    }


def verify(
    compose: Compose,
    model: Model,
    *,
    client: Any,
    hashes: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> Verification:
    """Compare every container of ``model``'s project (and strangers on its networks)."""
    hashes = service_hashes(compose) if hashes is None else hashes
    project = str(model.data.get("name", ""))
    expected = expectations(model, hashes)
    summaries = client.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    findings: list[Finding] = []
    checked: list[tuple[str, str]] = []
    seen: set[str] = set()
    from docker.errors import NotFound

    # A container removed between listing and inspecting is gone, not an error.
    for summary in sorted(summaries, key=lambda s: str((s.get("Names") or ["?"])[0])):
        seen.add(str(summary["Id"]))
        labels = summary.get("Labels") or {}
        service = labels.get(SERVICE_LABEL, "")
        with contextlib.suppress(NotFound):
            if service in expected:
                spec = expected[service].spec
                observed = observe(client, summary["Id"], str(spec.get("image") or ""))
                findings += compare(expected[service], observed)
                checked.append((observed.name, service))
            elif service not in hashes:  # not a service of another profile either
                attrs = client.api.inspect_container(summary["Id"])
                findings += unmanaged(attrs, project, hashes)
                checked.append((str(attrs.get("Name", "?")).lstrip("/"), service or "-"))
    for network in sorted(set(expected_networks(expected))):
        for container_id in _network_members(client, network):
            if container_id in seen:
                continue
            seen.add(container_id)
            try:
                attrs = client.api.inspect_container(container_id)
            except NotFound:
                continue
            strangers = unmanaged(attrs, project, hashes)
            if strangers:
                findings += strangers
                checked.append((str(attrs.get("Name", "?")).lstrip("/"), "-"))
    registry, _ = exceptions.load(compose.project.directory)
    findings = apply_waivers(findings, registry, today or dt.date.today())
    return Verification(project, checked, findings)


def expected_networks(expected: Mapping[str, Expected]) -> Iterable[str]:
    for item in expected.values():
        for key in item.spec.get("networks") or {}:
            yield item.network_names.get(key, key)


def _network_members(client: Any, network: str) -> list[str]:
    from docker.errors import NotFound

    try:
        info = client.api.inspect_network(network)
    except NotFound:
        return []
    return sorted((info.get("Containers") or {}).keys())


# -- reports -------------------------------------------------------------------------


def data(result: Verification) -> dict[str, Any]:
    """The JSON payload of a verification (inside the reporting envelope)."""
    return {
        "project": result.project,
        "containers": [{"name": c, "service": s} for c, s in result.containers],
        "findings": [_finding_json(f) for f in result.findings],
    }


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "check": f.rule_id,
        "requirement": f.requirement,
        "severity": f.severity.label,
        "service": f.service,
        "container": f.source.removeprefix("container "),
        "subject": f.subject,
        "message": f.message,
        "hint": f.hint,
        "suppressed": f.suppressed,
        "reason": f.suppressed_by,
    }


def junit_cases(result: Verification, suite_prefix: str = "") -> list[report.Case]:
    """One test case per container and runtime check."""
    cases = []
    for container, service in result.containers:
        mine = [f for f in result.findings if f.source == f"container {container}"]
        for check_id, info in RUNTIME_CHECKS.items():
            failing = [
                f
                for f in mine
                if f.rule_id == check_id and not f.suppressed and f.severity >= FAIL_AT
            ]
            message = "\n".join(f"{f.requirement}: {f.message}" for f in failing)
            cases.append(
                report.Case(
                    f"{suite_prefix}{container}",
                    f"{check_id} {info.title} ({info.requirement}, {service})",
                    not failing,
                    0.0,
                    message,
                )
            )
    return cases


def table(result: Verification) -> str:
    rows = [
        (
            f.requirement,
            f.rule_id,
            "suppressed" if f.suppressed else f.severity.label,
            f.service or "-",
            f.message,
        )
        for f in sorted(result.findings, key=lambda f: (f.requirement, f.rule_id, f.message))
    ]
    lines = []
    if rows:
        lines.append(report.table(rows, ["requirement", "check", "severity", "service", "finding"]))
        hints = sorted({f"{f.rule_id}: {f.hint}" for f in result.failing})
        lines += ["", "how to fix:", *(f"  {hint}" for hint in hints)] if hints else []
    count = len(result.containers)
    verdict = (
        f"drift: {len(result.failing)} finding(s) in {count} container(s) of {result.project}"
        if not result.ok
        else f"no drift: {count} container(s) of {result.project} match the model "
        f"({len(RUNTIME_CHECKS)} checks each)"
    )
    if not count and result.ok:
        verdict = f"no containers of project {result.project} are running"
    lines += ["", verdict] if lines else [verdict]
    return "\n".join(lines)
