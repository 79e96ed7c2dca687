"""Compose model -> Swarm stack file: a pure, tested translation.

``docker stack deploy`` reads the same Compose format as compose, but reads it
differently, and the differences are silent. The input here is always compose's
own rendered model (``config --format json`` for one selection), so profiles,
``extends`` and interpolation are already resolved. The output is a stack file
that the Swarm loader accepts, plus one :class:`Note` for every key whose
meaning changes on the way, so nothing is lost without a word:

- types: ``cpus`` and ``memory`` become strings (compose renders numbers);
- ``tmpfs:`` becomes ``type: tmpfs`` mounts (Swarm ignores the ``tmpfs`` key);
- ``restart:`` becomes ``deploy.restart_policy``;
- ``depends_on`` is dropped: Swarm has no start order, healthchecks carry readiness;
- ``security_opt`` is dropped: Swarm cannot set it per service (see ``gaps.py``);
- file secrets become Swarm secrets named by a content version, so a rotation
  creates a new secret and rolls the services that use it;
- loopback-only published ports are not published: Swarm's ingress cannot bind
  to one address, and silently exposing a port on every interface is worse;
- ``update_config`` / ``rollback_config`` get defaults when absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.limits import parse_size

STACK_FILE_VERSION = "3.9"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

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
        "deploy",
        "depends_on",
        "networks",
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
    """``/tmp:size=64m,mode=1777`` -> a Swarm ``type: tmpfs`` volume entry."""
    target, _, options = str(entry).partition(":")
    mount: dict[str, Any] = {"type": "tmpfs", "target": target}
    tmpfs: dict[str, Any] = {}
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size" and parse_size(value) is not None:
            tmpfs["size"] = parse_size(value)
    if tmpfs:
        mount["tmpfs"] = tmpfs
    return mount


def restart_policy(restart: Any) -> dict[str, Any]:
    text = str(restart or "no")
    if text in ("no", "False", "false"):
        return {"condition": "none"}
    if text.startswith("on-failure"):
        _, _, attempts = text.partition(":")
        policy: dict[str, Any] = {"condition": "on-failure"}
        if attempts.isdigit():
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
        if host_ip in LOOPBACK_HOSTS:
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
        if host_ip and host_ip not in ("0.0.0.0", "::"):
            notes.append(
                Note(name, "ports", f"host_ip {host_ip} is ignored by Swarm for port {target}")
            )
        ports.append(entry)
    return ports


def _volumes(name: str, spec: Mapping[str, Any], notes: list[Note]) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = []
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        entry = {k: v for k, v in volume.items() if k in ("type", "source", "target", "read_only")}
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


def _service_secrets(
    spec: Mapping[str, Any], owners: Mapping[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = []
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
        if source in owners:
            # Swarm, unlike compose, can give each reader its own copy with its own owner.
            entry["uid"], entry["gid"] = (str(part) for part in owners[source])
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
    secrets = _service_secrets(spec, owners)
    if secrets:
        service["secrets"] = secrets
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
