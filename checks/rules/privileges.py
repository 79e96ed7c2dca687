"""SEC-SPC-OPT-001: least privilege for every container."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from checks.capabilities import normalise_capability
from checks.finding import Hit, Severity
from checks.rule import rule
from checks.stack import Stack

REQ = "SEC-SPC-OPT-001"
DANGEROUS_CAPABILITIES = frozenset(
    {
        "ALL",
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_BOOT",
        "SYS_TIME",
        "DAC_READ_SEARCH",
        "NET_RAW",
        "BPF",
        "PERFMON",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "SYSLOG",
        "LINUX_IMMUTABLE",
    }
)
# Whole trees that must never be mounted, and directories only forbidden as a
# whole (a project checked out under /root or /home may mount its own files).
SENSITIVE_TREES = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/lib/docker",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
)
UNCONFINED = frozenset(
    {"seccomp:unconfined", "apparmor:unconfined", "label:disable", "systempaths:unconfined"}
)
SENSITIVE_EXACT = frozenset({"/", "/etc", "/root", "/home", "/var", "/var/run", "/run", "/usr"})


@rule(
    "PRIV-001",
    requirement=REQ,
    severity=Severity.CRITICAL,
    title="cap_drop must contain ALL",
    hint="extend a template from infra/common-optimizations.yml (it sets cap_drop: [ALL])",
    example="""
    services:
      web: {image: "nginx:1.27.3"}
    """,
    fixed="""
    services:
      web: {image: "nginx:1.27.3", cap_drop: [ALL], cap_add: [CHOWN, SETGID, SETUID]}
    """,
)
def cap_drop_all(stack: Stack) -> Iterator[Hit]:
    """Every service drops all Linux capabilities (``cap_drop: [ALL]``).

    ``CAP_ALL`` and any letter case are accepted. Capabilities a service really
    needs are added back one by one with ``cap_add`` (see PRIV-005).
    """
    for name, spec in stack.services.items():
        dropped = {normalise_capability(c) for c in spec.get("cap_drop") or []}
        if "ALL" not in dropped:
            yield Hit(name, "does not drop all capabilities (cap_drop lacks ALL)")


@rule(
    "PRIV-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no-new-privileges must be set",
    hint="add security_opt: [no-new-privileges:true] (the baseline template has it)",
    example="""
    services:
      web: {image: "nginx:1.27.3"}
    """,
    fixed="""
    services:
      web: {image: "nginx:1.27.3", security_opt: ["no-new-privileges:true"]}
    """,
)
def no_new_privileges(stack: Stack) -> Iterator[Hit]:
    """``security_opt`` contains ``no-new-privileges`` (``:true``, ``=true`` or bare).

    An explicit ``no-new-privileges:false`` is reported even when a true form is
    also present, because the engine applies the last one.
    """
    for name, spec in stack.services.items():
        options = [str(o).strip().lower().replace("=", ":") for o in spec.get("security_opt") or []]
        flags = [o for o in options if o.startswith("no-new-privileges")]
        if not flags:
            yield Hit(name, "no-new-privileges is not set")
        elif flags[-1] not in {"no-new-privileges", "no-new-privileges:true"}:
            yield Hit(name, "no-new-privileges is explicitly disabled", subject="false")


@rule(
    "PRIV-003",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="init must be true",
    hint="set init: true so a minimal init reaps zombies and forwards signals",
    example="""
    services:
      worker: {image: "example/worker:3.2.0"}
    """,
    fixed="""
    services:
      worker: {image: "example/worker:3.2.0", init: true}
    """,
)
def init_process(stack: Stack) -> Iterator[Hit]:
    """``init: true`` runs docker-init as PID 1: signals are forwarded and zombies reaped."""
    for name, spec in stack.services.items():
        if spec.get("init") is not True:
            yield Hit(name, "init is not enabled")


@rule(
    "PRIV-004",
    requirement=REQ,
    severity=Severity.CRITICAL,
    title="no privileged mode, host namespaces or unconfined profiles",
    hint="remove privileged, pid/ipc/userns_mode: host and seccomp/apparmor=unconfined",
    example="""
    services:
      agent: {image: "example/agent:3.0.1", privileged: true, pid: host}
    """,
    fixed="""
    services:
      agent:
        image: "example/agent:3.0.1"
        cap_drop: [ALL]
        security_opt: ["no-new-privileges:true"]
    """,
)
def host_escape_hatches(stack: Stack) -> Iterator[Hit]:
    """No ``privileged: true``, ``pid: host``, ``ipc: host``, ``userns_mode: host``,
    ``uts: host``, ``cgroup: host`` and no ``seccomp:unconfined``,
    ``apparmor:unconfined``, ``label:disable`` (SELinux off) or
    ``systempaths=unconfined`` (unmasked /proc and /sys paths) in ``security_opt``."""
    for name, spec in stack.services.items():
        if spec.get("privileged") is True:
            yield Hit(name, "runs privileged", subject="privileged")
        for key in ("pid", "ipc", "userns_mode", "uts", "cgroup"):
            if str(spec.get(key) or "").lower() == "host":
                yield Hit(name, f"shares the host {key} namespace", subject=key)
        for option in spec.get("security_opt") or []:
            text = str(option).lower().replace("=", ":")
            if text in UNCONFINED:
                yield Hit(name, f"disables confinement ({text})", subject=text)


@rule(
    "PRIV-005",
    requirement=REQ,
    severity=Severity.HIGH,
    title="cap_add only through the exceptions registry",
    hint="drop the capability, or register it in infra/exceptions.yml with an ADR",
    example="""
    services:
      vpn: {image: "example/vpn:1.8.0", cap_drop: [ALL], cap_add: [NET_ADMIN]}
    """,
    fixed="""
    # drop it, or keep it and register {service: vpn, rule: PRIV-005, subjects: [NET_ADMIN]}
    # in infra/exceptions.yml with a rationale and an ADR
    services:
      vpn: {image: "example/vpn:1.8.0", cap_drop: [ALL]}
    """,
)
def added_capabilities(stack: Stack) -> Iterator[Hit]:
    """Each capability in ``cap_add`` is a finding unless registered as an exception.

    Dangerous capabilities (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE,
    DAC_READ_SEARCH, ...) are critical; others are high. A service that drops
    ALL and adds one back never scores worse than one that drops nothing,
    because dropping nothing is itself critical (PRIV-001).
    """
    for name, spec in stack.services.items():
        for cap in sorted({normalise_capability(c) for c in spec.get("cap_add") or []}):
            dangerous = cap in DANGEROUS_CAPABILITIES
            yield Hit(
                name,
                f"adds capability {cap}" + (" (dangerous)" if dangerous else ""),
                subject=cap,
                severity=Severity.CRITICAL if dangerous else None,
            )


@rule(
    "PRIV-006",
    requirement=REQ,
    severity=Severity.CRITICAL,
    title="no Docker socket or sensitive host paths",
    hint="use the file provider or a socket proxy; never bind the engine socket",
    example="""
    services:
      proxy: {image: "traefik:v3.3.4", volumes: ["/var/run/docker.sock:/var/run/docker.sock"]}
    """,
    fixed="""
    services:
      proxy: {image: "traefik:v3.3.4", volumes: ["./traefik/dynamic:/etc/traefik/dynamic:ro"]}
    """,
)
def sensitive_mounts(stack: Stack) -> Iterator[Hit]:
    """No bind mount of the Docker socket, ``/``, ``/proc``, ``/sys``, ``/etc``, ... .

    Mounting the engine socket gives root on the host. A registered exception
    can relax one path for one service.
    """
    for name, spec in stack.services.items():
        for volume in spec.get("volumes") or []:
            if not isinstance(volume, dict) or volume.get("type") != "bind":
                continue
            source = bind_source(volume)
            if is_sensitive_path(source):
                yield Hit(name, f"mounts sensitive host path {source}", subject=source)


def bind_source(volume: Mapping[str, Any]) -> str:
    """A bind's host path without a trailing slash ("/" for the root)."""
    return str(volume.get("source") or "").rstrip("/") or "/"


def is_under(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def is_sensitive_path(source: str) -> bool:
    """A host path PRIV-006 forbids outright, read-only or not."""
    return source in SENSITIVE_EXACT or any(is_under(source, tree) for tree in SENSITIVE_TREES)


# Devices that expose host memory, disks or the kernel: reading or writing them is
# taking over the host, whatever capabilities the container has.
HOST_TAKEOVER_DEVICES = re.compile(
    r"^/dev/(mem|kmem|port|kmsg|(sd|hd|vd|xvd)[a-z]+\d*|nvme\d+(n\d+(p\d+)?)?|"
    r"mmcblk\d+(p\d+)?|dm-\d+|loop\d+|md\d+|disk/.*|mapper/.*|mtd\d*|cpu/.*|kvm)$"
)


def _device_source(device: Any) -> str:
    if isinstance(device, Mapping):
        return str(device.get("source") or "")
    return str(device).split(":", 1)[0]


@rule(
    "PRIV-007",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no host devices",
    hint="remove devices:; if a device is truly needed, register it in infra/exceptions.yml",
    example="""
    services:
      backup:
        image: example/backup:2.1.0
        devices: ["/dev/sda:/dev/sda"]
    """,
    fixed="""
    services:
      backup:
        image: example/backup:2.1.0
        volumes: ["/srv/backup:/backup"]
    """,
)
def host_devices(stack: Stack) -> Iterator[Hit]:
    """No ``devices:`` entry. A device node bypasses the filesystem and capability
    limits; raw disks, ``/dev/mem``, ``/dev/kmsg``, ``/dev/kvm`` and similar give
    control of the host and are critical, any other device is high. A device a
    service really needs (a GPU, ``/dev/fuse``) is registered as an exception."""
    for name, spec in stack.services.items():
        for device in spec.get("devices") or []:
            source = _device_source(device)
            takeover = bool(HOST_TAKEOVER_DEVICES.match(source))
            yield Hit(
                name,
                f"maps host device {source}" + (" (host takeover)" if takeover else ""),
                subject=source,
                severity=Severity.CRITICAL if takeover else None,
            )


@rule(
    "PRIV-008",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="no shared mount propagation",
    hint="drop the :shared/:rshared mode (the default rprivate keeps mounts apart)",
    example="""
    services:
      agent:
        image: example/agent:3.0.1
        volumes: ["/srv/agent:/data:rshared"]
    """,
    fixed="""
    services:
      agent:
        image: example/agent:3.0.1
        volumes: ["/srv/agent:/data"]
    """,
)
def shared_propagation(stack: Stack) -> Iterator[Hit]:
    """No bind mount with ``shared`` or ``rshared`` propagation: mounts made inside the
    container would appear on the host, and the other way round."""
    for name, spec in stack.services.items():
        for volume in spec.get("volumes") or []:
            if not isinstance(volume, Mapping):
                continue
            propagation = str((volume.get("bind") or {}).get("propagation") or "")
            if propagation in {"shared", "rshared"}:
                target = str(volume.get("target"))
                yield Hit(name, f"mounts {target} with {propagation} propagation", subject=target)
