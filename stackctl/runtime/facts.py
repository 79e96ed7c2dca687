"""What is known about one container: what the engine and the host report
(:class:`Observed`) and what the rendered model declares (:class:`Expected`),
with the pure parsers that turn raw engine and ``/proc`` data into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.capabilities import capability_names
from checks.limits import declared_limit, parse_size


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
