"""Compose model -> Swarm stack file: a pure, tested translation.

``docker stack deploy`` reads the same Compose format as compose, but reads it
differently, and the differences are silent. The input here is always compose's
own rendered model (``config --format json`` for one selection), so profiles,
``extends`` and interpolation are already resolved. The output is a stack file
that the Swarm loader accepts, plus one :class:`Note` for every key whose
meaning changes on the way, so nothing is lost without a word:

- types: ``cpus`` and ``memory`` become strings (compose renders numbers);
- the legacy limits ``mem_limit``, ``cpus``, ``pids_limit`` and ``mem_reservation``
  become ``deploy.resources`` (Swarm ignores the legacy keys);
- ``tmpfs:`` becomes ``type: tmpfs`` mounts (Swarm ignores the ``tmpfs`` key),
  keeping the size; other tmpfs options have no Swarm form (see ``gaps.py``);
- ``restart:`` becomes ``deploy.restart_policy``;
- ``depends_on`` is dropped: Swarm has no start order, healthchecks carry readiness;
- ``security_opt`` is dropped: Swarm cannot set it per service (see ``gaps.py``);
- file secrets become Swarm secrets named by a content version, so a rotation
  creates a new secret and rolls the services that use it; each reader's copy
  is owned by the declared owner, else by the service's numeric ``user:``;
- loopback-only published ports (127.0.0.0/8, ``::1``) are not published:
  Swarm's ingress cannot bind to one address, and silently exposing a port on
  every interface is worse; a port on another single address is published on
  every interface, which the gap table reports as lost;
- ``update_config`` / ``rollback_config`` get defaults when absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.addresses import is_loopback
from checks.limits import parse_size

STACK_FILE_VERSION = "3.9"
ANY_ADDRESS = ("", "0.0.0.0", "::")
# Legacy resource keys -> where ``deploy.resources`` keeps the same limit.
LEGACY_RESOURCES = {
    "mem_limit": ("limits", "memory"),
    "cpus": ("limits", "cpus"),
    "pids_limit": ("limits", "pids"),
    "mem_reservation": ("reservations", "memory"),
}
# Limits compose applies that a Swarm task has no field for.
UNCARRIED_LIMITS = ("memswap_limit", "cpu_quota", "cpu_period", "cpuset", "blkio_config")
# The tmpfs mode Swarm (like the kernel's default for Docker) gives every tmpfs mount.
DEFAULT_TMPFS_MODE = 0o1777

# Service keys the Swarm loader applies as they are (after type fixes below).
KEPT_SERVICE_KEYS = frozenset(
    {
        "cap_add",
        "cap_drop",
        "command",
        "configs",
        "dns",
        "dns_search",
        "domainname",
        "entrypoint",
        "environment",
        "extra_hosts",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "labels",
        "logging",
        "read_only",
        "stop_grace_period",
        "stop_signal",
        "stdin_open",
        "sysctls",
        "tty",
        "ulimits",
        "user",
        "working_dir",
    }
)
# Keys translated into something else, handled explicitly below.
TRANSLATED_SERVICE_KEYS = frozenset(
    {
        "cpus",
        "deploy",
        "depends_on",
        "mem_limit",
        "mem_reservation",
        "networks",
        "pids_limit",
        "ports",
        "restart",
        "secrets",
        "security_opt",
        "tmpfs",
        "volumes",
    }
)
# Keys that mean nothing once a selection is rendered; dropped without a note.
SILENT_SERVICE_KEYS = frozenset({"profiles", "expose", "pull_policy"})


@dataclass(frozen=True)
class Note:
    """What changed for one service (or the whole stack) on the way to Swarm."""

    service: str
    key: str
    message: str


@dataclass(frozen=True)
class Translation:
    stack: dict[str, Any]
    notes: tuple[Note, ...]
    secret_names: Mapping[str, str] = field(default_factory=dict)  # compose name -> Swarm name

    def notes_for(self, key: str) -> list[Note]:
        return [note for note in self.notes if note.key == key]


def tmpfs_mount(entry: str) -> dict[str, Any]:
    """``/tmp:size=64m,mode=1777`` -> a Swarm ``type: tmpfs`` volume entry (size only)."""
    target, _, options = str(entry).partition(":")
    mount: dict[str, Any] = {"type": "tmpfs", "target": target}
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size" and parse_size(value) is not None:
            mount["tmpfs"] = {"size": parse_size(value)}
    return mount


def _is_default_mode(value: Any) -> bool:
    try:
        mode = value if isinstance(value, int) else int(str(value), 8)
    except ValueError:
        return False
    return mode == DEFAULT_TMPFS_MODE


def tmpfs_options_dropped(spec: Mapping[str, Any]) -> list[str]:
    """``target: option`` for each tmpfs option compose applies and a Swarm mount cannot.

    Swarm's tmpfs mount keeps the size only: a mode other than the default 1777,
    a uid or gid, ``noexec``/``nosuid``/``nodev`` or ``ro`` are lost.
    """
    dropped: list[str] = []
    for entry in spec.get("tmpfs") or []:
        target, _, options = str(entry).partition(":")
        for option in filter(None, options.split(",")):
            key, _, value = option.partition("=")
            if key == "size" or option == "rw" or (key == "mode" and _is_default_mode(value)):
                continue
            dropped.append(f"{target}: {option}")
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("type") == "tmpfs":
            for key, value in (volume.get("tmpfs") or {}).items():
                if key == "size" or (key == "mode" and _is_default_mode(value)):
                    continue
                shown = f"{value:o}" if key == "mode" and isinstance(value, int) else value
                dropped.append(f"{volume.get('target')}: {key}={shown}")
    return dropped


def restart_policy(restart: Any) -> dict[str, Any]:
    text = str(restart or "no")
    if text in ("no", "False", "false"):
        return {"condition": "none"}
    if text.startswith("on-failure"):
        _, _, attempts = text.partition(":")
        policy: dict[str, Any] = {"condition": "on-failure"}
        if attempts.isdecimal():
            policy["max_attempts"] = int(attempts)
        return policy
    return {"condition": "any"}  # always, unless-stopped


def _stringify(resources: Mapping[str, Any]) -> dict[str, Any]:
    """Swarm's loader wants ``cpus`` and ``memory`` as strings; compose renders numbers."""
    fixed: dict[str, Any] = {}
    for key, value in resources.items():
        if value is None:
            continue
        fixed[key] = str(value) if key in ("cpus", "memory") else value
    return fixed


def _has_state(spec: Mapping[str, Any]) -> bool:
    return any(
        isinstance(v, Mapping) and v.get("type") in ("bind", "volume")
        for v in spec.get("volumes") or []
    )


def rollout_defaults(spec: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One task at a time, rolled back on failure; stateful services stop before they start,
    so two tasks never share one data directory."""
    order = "stop-first" if _has_state(spec) else "start-first"
    update = {
        "parallelism": 1,
        "delay": "5s",
        "failure_action": "rollback",
        "monitor": "30s",
        "order": order,
    }
    rollback = {"parallelism": 1, "failure_action": "pause", "monitor": "30s", "order": order}
    return update, rollback


def _deploy(name: str, spec: Mapping[str, Any], notes: list[Note]) -> dict[str, Any]:
    source: Mapping[str, Any] = spec.get("deploy") or {}
    deploy: dict[str, Any] = {}
    for key, value in source.items():
        if key == "resources":
            resources = {
                part: _stringify(values)
                for part, values in (value or {}).items()
                if isinstance(values, Mapping) and values
            }
            if resources:
                deploy["resources"] = resources
        elif key == "placement":
            if value:
                deploy["placement"] = value
        elif value not in (None, {}, []):
            deploy[key] = value
    for key, (part, limit) in LEGACY_RESOURCES.items():
        value = spec.get(key)
        if value in (None, "", 0, "0"):
            continue
        resources = deploy.setdefault("resources", {}).setdefault(part, {})
        if resources.get(limit) in (None, ""):
            resources.update(_stringify({limit: value}))
            notes.append(Note(name, key, f"{key}: {value} -> deploy.resources.{part}.{limit}"))
    if "restart_policy" not in deploy:
        deploy["restart_policy"] = restart_policy(spec.get("restart"))
        if spec.get("restart") is not None:
            notes.append(
                Note(name, "restart", f"restart: {spec.get('restart')} -> deploy.restart_policy")
            )
    update, rollback = rollout_defaults(spec)
    deploy.setdefault("update_config", update)
    deploy.setdefault("rollback_config", rollback)
    return deploy


def _ports(name: str, spec: Mapping[str, Any], notes: list[Note]) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    for port in spec.get("ports") or []:
        if not isinstance(port, Mapping):
            continue
        host_ip = str(port.get("host_ip") or "")
        target = port.get("target")
        if is_loopback(host_ip):
            notes.append(
                Note(
                    name,
                    "ports",
                    f"port {target} is published on {host_ip} only in compose; Swarm cannot bind"
                    " one address, so it is not published (reach it over the stack network)",
                )
            )
            continue
        if not port.get("published"):
            continue  # an ephemeral publish: nothing stable to expose
        entry: dict[str, Any] = {
            "target": int(str(target)),
            "published": int(str(port["published"])),
            "protocol": port.get("protocol") or "tcp",
            "mode": port.get("mode") or "ingress",
        }
        if host_ip not in ANY_ADDRESS:
            notes.append(
                Note(
                    name,
                    "ports",
                    f"host_ip {host_ip} is ignored by Swarm: port {target} is published on every"
                    " interface of every node",
                )
            )
        ports.append(entry)
    return ports


def single_address_ports(spec: Mapping[str, Any]) -> list[str]:
    """``host_ip:published`` of each port compose binds to one address that is not loopback."""
    return [
        f"{p.get('host_ip')}:{p.get('published')}"
        for p in spec.get("ports") or []
        if isinstance(p, Mapping)
        and p.get("published")
        and str(p.get("host_ip") or "") not in ANY_ADDRESS
        and not is_loopback(str(p.get("host_ip")))
    ]


def loopback_ports(spec: Mapping[str, Any]) -> bool:
    return any(
        isinstance(p, Mapping) and is_loopback(str(p.get("host_ip") or ""))
        for p in spec.get("ports") or []
    )


def _volumes(name: str, spec: Mapping[str, Any], notes: list[Note]) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = []
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        entry = {k: v for k, v in volume.items() if k in ("type", "source", "target", "read_only")}
        size = parse_size((volume.get("tmpfs") or {}).get("size"))
        if volume.get("type") == "tmpfs" and size is not None:
            entry["tmpfs"] = {"size": size}
        if volume.get("type") == "bind":
            notes.append(
                Note(
                    name,
                    "volumes",
                    f"bind mount {volume.get('source')} must exist on every node that may run"
                    " this service; pin it with a placement constraint",
                )
            )
        volumes.append(entry)
    for entry in spec.get("tmpfs") or []:
        volumes.append(tmpfs_mount(str(entry)))
    if spec.get("tmpfs"):
        notes.append(Note(name, "tmpfs", "tmpfs: -> type: tmpfs mounts (Swarm ignores tmpfs:)"))
    return volumes


def security_options_dropped(spec: Mapping[str, Any]) -> list[str]:
    """The ``security_opt`` entries that tighten a container and have no Swarm form.

    ``no-new-privileges`` has its own row (a daemon default can carry it); an
    entry that loosens (``seccomp=unconfined``, ``label=disable``) loses nothing,
    since Swarm applies the daemon's default profile instead.
    """
    dropped: list[str] = []
    for option in spec.get("security_opt") or []:
        key, _, value = re.sub(r"^([\w-]+):", r"\1=", str(option), count=1).partition("=")
        if key == "no-new-privileges" or value in ("unconfined", "disable"):
            continue
        dropped.append(str(option))
    return dropped


def user_ids(user: Any) -> tuple[int, int] | None:
    """``"1000"`` -> ``(1000, 1000)``, ``"1000:50"`` -> ``(1000, 50)``; None unless numeric."""
    uid, _, gid = str(user or "").partition(":")
    if not uid.isdecimal() or not (gid or uid).isdecimal():
        return None
    return int(uid), int(gid or uid)


def runs_as_root(spec: Mapping[str, Any]) -> bool:
    uid = str(spec.get("user") or "").partition(":")[0]
    return uid in ("", "0", "root")


def secret_sources(spec: Mapping[str, Any]) -> list[str]:
    sources = [
        ref.get("source") if isinstance(ref, Mapping) else ref for ref in spec.get("secrets") or []
    ]
    return [str(source) for source in sources if source]


def unreadable_secrets(spec: Mapping[str, Any], owners: Mapping[str, tuple[int, int]]) -> list[str]:
    """Secrets this service cannot read on Swarm: no declared owner, and a user that
    is neither root nor numeric, so Swarm's 0:0 0400 copy is not theirs."""
    if runs_as_root(spec) or user_ids(spec.get("user")) is not None:
        return []
    return [source for source in secret_sources(spec) if source not in owners]


def _service_secrets(
    spec: Mapping[str, Any], owners: Mapping[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = []
    reader = None if runs_as_root(spec) else user_ids(spec.get("user"))
    for ref in spec.get("secrets") or []:
        source = ref.get("source") if isinstance(ref, Mapping) else str(ref)
        if not source:
            continue
        target = str((ref.get("target") if isinstance(ref, Mapping) else None) or source)
        entry: dict[str, Any] = {
            "source": source,
            "target": target.removeprefix("/run/secrets/"),
            "mode": 0o400,
        }
        # Swarm, unlike compose, can give each reader its own copy with its own owner:
        # the declared one, else the uid the service runs as (Swarm's default is 0:0).
        owner = owners.get(source) or reader
        if owner is not None:
            entry["uid"], entry["gid"] = (str(part) for part in owner)
        refs.append(entry)
    return refs


def translate_service(
    name: str, spec: Mapping[str, Any], owners: Mapping[str, tuple[int, int]]
) -> tuple[dict[str, Any], list[Note]]:
    notes: list[Note] = []
    service: dict[str, Any] = {k: v for k, v in spec.items() if k in KEPT_SERVICE_KEYS}
    if service.get("entrypoint") is None:
        service.pop("entrypoint", None)
    service["deploy"] = _deploy(name, spec, notes)
    if spec.get("depends_on"):
        deps = ", ".join(sorted(spec["depends_on"]))
        notes.append(
            Note(
                name,
                "depends_on",
                f"depends_on ({deps}) dropped: Swarm has no start order; healthchecks and"
                " retries carry readiness",
            )
        )
    if spec.get("security_opt"):
        notes.append(
            Note(
                name,
                "security_opt",
                f"security_opt ({', '.join(map(str, spec['security_opt']))}) dropped: Swarm"
                " ignores it; no-new-privileges must come from each daemon's default",
            )
        )
    networks = spec.get("networks") or {}
    if networks:
        service["networks"] = sorted(networks) if isinstance(networks, Mapping) else networks
    ports = _ports(name, spec, notes)
    if ports:
        service["ports"] = ports
    volumes = _volumes(name, spec, notes)
    if volumes:
        service["volumes"] = volumes
    dropped = tmpfs_options_dropped(spec)
    if dropped:
        notes.append(
            Note(
                name,
                "tmpfs",
                f"tmpfs options dropped (Swarm keeps the size only): {', '.join(dropped)}",
            )
        )
    secrets = _service_secrets(spec, owners)
    if secrets:
        service["secrets"] = secrets
    unreadable = unreadable_secrets(spec, owners)
    if unreadable:
        notes.append(
            Note(
                name,
                "secrets",
                f"secret(s) {', '.join(unreadable)} have no declared owner and user"
                f" {spec.get('user')} is not numeric: Swarm's copy is 0:0 0400",
            )
        )
    for key in sorted(set(spec) - KEPT_SERVICE_KEYS - TRANSLATED_SERVICE_KEYS):
        if key not in SILENT_SERVICE_KEYS and spec.get(key) not in (None, {}, [], ""):
            notes.append(Note(name, key, f"{key} is not supported by Swarm and was dropped"))
    return service, notes


def translate(
    model: Mapping[str, Any],
    *,
    stack: str = "",
    secret_versions: Mapping[str, str] | None = None,
    secret_owners: Mapping[str, tuple[int, int]] | None = None,
) -> Translation:
    """Translate one rendered selection for the stack named ``stack``.

    ``secret_versions`` maps a secret to its content version (``cluster.content_version``),
    so a Swarm secret is ``<stack>_<name>_<version>``; ``secret_owners`` maps it to the
    uid:gid that reads it.
    """
    versions = secret_versions or {}
    owners = secret_owners or {}
    notes: list[Note] = []
    services: dict[str, Any] = {}
    for name, spec in sorted((model.get("services") or {}).items()):
        services[name], service_notes = translate_service(name, spec, owners)
        notes.extend(service_notes)
    used_secrets = {
        (ref.get("source") if isinstance(ref, Mapping) else str(ref))
        for spec in (model.get("services") or {}).values()
        for ref in spec.get("secrets") or []
    }
    secrets: dict[str, Any] = {}
    names: dict[str, str] = {}
    for name, spec in sorted((model.get("secrets") or {}).items()):
        if name not in used_secrets:
            continue
        if not (spec or {}).get("file"):
            notes.append(Note("", "secrets", f"secret {name} is not a file secret; kept external"))
            secrets[name] = {"external": True, "name": name}
            continue
        version = versions.get(name, "")
        swarm_name = "_".join(part for part in (stack, name, version) if part)
        names[name] = swarm_name
        secrets[name] = {"name": swarm_name, "file": str(spec["file"])}
    networks: dict[str, Any] = {}
    for name, spec in sorted((model.get("networks") or {}).items()):
        spec = spec or {}
        network: dict[str, Any] = {"driver": "overlay"}
        if spec.get("driver") not in (None, "bridge", "overlay"):
            notes.append(
                Note("", "networks", f"network {name}: driver {spec['driver']} -> overlay")
            )
        for key in ("internal", "labels", "attachable", "driver_opts"):
            if spec.get(key):
                network[key] = spec[key]
        networks[name] = network
    document: dict[str, Any] = {"version": STACK_FILE_VERSION, "services": services}
    if networks:
        document["networks"] = networks
    if secrets:
        document["secrets"] = secrets
    volumes = {name: (spec or {}) for name, spec in (model.get("volumes") or {}).items()}
    if volumes:
        document["volumes"] = {
            name: {k: v for k, v in spec.items() if k in ("driver", "driver_opts", "labels")}
            for name, spec in volumes.items()
        }
    return Translation(stack=document, notes=tuple(notes), secret_names=names)
