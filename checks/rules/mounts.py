"""Host paths a container may write (SEC-SPC-OPT-001): no system path, no shared drop box.

PRIV-006 forbids the engine socket and a few host trees outright; these rules look
at what a bind lets a container *write*: the host's system directories, and one
host folder written by many services at once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from checks.finding import Hit, Severity
from checks.rule import rule
from checks.rules.privileges import bind_source, is_sensitive_path, is_under
from checks.stack import Stack

REQ = "SEC-SPC-OPT-001"
# Where the host keeps what it executes, loads and configures: writing there from a
# container changes the host itself (a kernel module, a library, a unit, a cron job).
SYSTEM_TREES = (
    "/etc",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr",
    "/boot",
    "/root",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/var/spool/cron",
)
# More writers than this on one host path make it a shared drop box (see MOUNT-002).
MAX_SHARED_WRITERS = 3
KEY_FOLDER_RE = re.compile(
    r"(^|[/._-])(secrets?|keys?|certs?|certificates|ssl|tls|pki|credentials?|tokens?|"
    r"\.ssh|gnupg|vault)($|[/._-])",
    re.IGNORECASE,
)


def writable_binds(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(host source, container target) of each bind a service mounts read-write."""
    for volume in spec.get("volumes") or []:
        if (
            isinstance(volume, Mapping)
            and volume.get("type") == "bind"
            and not volume.get("read_only")
        ):
            yield bind_source(volume), str(volume.get("target") or "")


def in_project(stack: Stack, source: str) -> bool:
    """A path inside the project's own checkout (which may well live under /root)."""
    directory = stack.facts.directory
    return bool(directory) and is_under(source, directory)


def is_system_path(stack: Stack, source: str) -> bool:
    if in_project(stack, source):
        return False
    return source == "/" or any(is_under(source, tree) for tree in SYSTEM_TREES)


@rule(
    "MOUNT-001",
    requirement=REQ,
    severity=Severity.CRITICAL,
    title="no writable bind of a host system path",
    hint='mount it read-only (":ro"), or mount only the one file the service needs',
    example="""
    services:
      agent:
        image: "example/agent:3.0.1"
        volumes: ["/lib/modules:/lib/modules", "/usr/src:/usr/src"]
    """,
    fixed="""
    services:
      agent:
        image: "example/agent:3.0.1"
        volumes: ["/lib/modules:/lib/modules:ro", "/usr/src:/usr/src:ro"]
    """,
)
def writable_system_paths(stack: Stack) -> Iterator[Hit]:
    """No read-write bind of the host's system directories: ``/``, ``/etc``,
    ``/usr`` (``/usr/src``), ``/lib`` (``/lib/modules``), ``/bin``, ``/sbin``,
    ``/boot``, ``/root``, ``/proc``, ``/sys``, ``/dev``, ``/run``,
    ``/var/lib/docker``, ``/var/lib/containerd``, ``/var/spool/cron`` or anything
    under them. Writing there changes what the host runs, loads or trusts: a
    container that can is root on the host. Read-only binds (an agent reading
    ``/proc`` or kernel headers) are fine here. Paths inside the project's own
    checkout are not system paths, and paths PRIV-006 forbids outright are
    reported there, once.
    """
    for name, spec in stack.services.items():
        for source, target in writable_binds(spec):
            if is_system_path(stack, source) and not is_sensitive_path(source):
                yield Hit(
                    name,
                    f"mounts host system path {source} read-write at {target}",
                    subject=source,
                )


def shown_path(stack: Stack, source: str) -> str:
    """A host path as the project writes it: ``./certs`` inside the project, so the
    subject (and the fingerprint) is the same on every checkout."""
    if in_project(stack, source):
        relative = source[len(stack.facts.directory.rstrip("/")) :].lstrip("/")
        return f"./{relative}" if relative else "."
    return source


@rule(
    "MOUNT-002",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="no host folder writable by many services",
    hint="give each service its own folder, and mount shared input read-only (:ro)",
    example="""
    services:
      a: {image: "example/a:1.0.0", volumes: ["./certs:/certs"]}
      b: {image: "example/b:1.0.0", volumes: ["./certs:/certs"]}
      c: {image: "example/c:1.0.0", volumes: ["./certs:/certs"]}
      d: {image: "example/d:1.0.0", volumes: ["./certs:/certs"]}
    """,
    fixed="""
    services:
      a: {image: "example/a:1.0.0", volumes: ["./certs:/certs"]}
      b: {image: "example/b:1.0.0", volumes: ["./certs:/certs:ro"]}
      c: {image: "example/c:1.0.0", volumes: ["./certs:/certs:ro"]}
      d: {image: "example/d:1.0.0", volumes: ["./certs:/certs:ro"]}
    """,
)
def shared_writable_folders(stack: Stack) -> Iterator[Hit]:
    """One host path is mounted read-write by at most three services
    (``MAX_SHARED_WRITERS``). Beyond that it is a shared drop box: any one of
    them, once compromised, can change what all the others read, such as the keys
    and certificates a setup job wrote for a cluster. Usually one service writes
    and the others only read, which ``:ro`` says. Each writer is reported, high when
    the path looks like it holds keys, certificates or secrets (``certs``,
    ``keys``, ``secrets``, ``ssl``, ``.ssh``, ...), medium otherwise. System paths
    are PRIV-006's and MOUNT-001's.
    """
    writers: dict[str, set[str]] = defaultdict(set)
    for name, spec in stack.services.items():
        for source, _ in writable_binds(spec):
            if not is_system_path(stack, source) and not is_sensitive_path(source):
                writers[source].add(name)
    for source, names in sorted(writers.items()):
        if len(names) <= MAX_SHARED_WRITERS:
            continue
        shown = shown_path(stack, source)
        keys = bool(KEY_FOLDER_RE.search(shown))
        for name in sorted(names):
            yield Hit(
                name,
                f"writes {shown}, which {len(names)} services mount read-write "
                f"({', '.join(sorted(names))})" + (": it looks like it holds keys" if keys else ""),
                subject=shown,
                severity=Severity.HIGH if keys else None,
            )
