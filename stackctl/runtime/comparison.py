"""The runtime checks as pure comparisons of (declared, observed): no engine, no host.

:func:`compare` judges one container of a declared service against its
:class:`Expected`; :func:`unmanaged` judges a container compose did not create
for a declared service. Each difference is a :class:`checks.finding.Finding`
of a runtime rule (catalogued in ``checks.rules.runtime``), traced to the spec
requirement the lost control serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from checks.capabilities import DOCKER_DEFAULT_CAPABILITIES, normalise_capability
from checks.catalogue import rules_of_kind
from checks.conventions import HASH_LABEL, PROJECT_LABEL, SERVICE_LABEL
from checks.finding import Finding, Severity
from stackctl.runtime.facts import Expected, Observed, declared_limits

# The runtime checks, in report order (declared in checks.rules.runtime).
RUNTIME_CHECKS = rules_of_kind("runtime")
# A runtime finding's source: this prefix and the container's name.
CONTAINER_SOURCE = "container "


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
                f"{CONTAINER_SOURCE}{self.container}",
                line=0,  # a container, not a place in a file
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
    return int(uid) if uid.isdecimal() else None


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


def container_of(finding: Finding) -> str:
    """The container a runtime finding is about (from its source)."""
    return finding.source.removeprefix(CONTAINER_SOURCE)
