"""Collection: what the engine and the host say about a container.

The engine's ``inspect``, PID 1's ``/proc/<pid>/status`` (from the host, else by
``cat`` inside the container), the limits in the container's cgroup files and
the mode and owner of secret mounts. Secret files are only ``stat``-ed, never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackctl.runtime.facts import (
    CgroupLimits,
    FileFacts,
    Observed,
    engine_limits,
    parse_proc_status,
)

UNLIMITED_MEMORY = 1 << 62  # cgroup v1 reports "no limit" as a page-rounded 2**63-1


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
    return int(text) if text.lstrip("-").isdecimal() else None


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
        memory=int(memory_text) if memory_text.isdecimal() else None,
        cpus=cpus,
        pids=int(pids_text) if pids_text.isdecimal() else None,
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


def network_members(client: Any, network: str) -> list[str]:
    """The ids of every container attached to ``network`` (none when it is gone)."""
    from docker.errors import NotFound

    try:
        info = client.api.inspect_network(network)
    except NotFound:
        return []
    return sorted((info.get("Containers") or {}).keys())
