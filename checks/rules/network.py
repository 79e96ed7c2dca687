"""REQ-SPC-OPT-003: services find each other by Docker DNS, never by address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from checks.finding import Hit, Severity
from checks.rule import rule
from checks.stack import Stack

REQ = "REQ-SPC-OPT-003"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _host_entry(entry: str) -> tuple[str, str]:
    host, _, address = entry.partition("=") if "=" in entry else entry.partition(":")
    return host, address


@rule(
    "NET-001",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no static container addresses",
    hint="remove ipv4_address/ipv6_address and address the service by its name",
    example="""
    services:
      api: {image: "example/api:2.0.1", networks: {back: {ipv4_address: 10.10.0.5}}}
    networks:
      back: {}
    """,
    fixed="""
    services:
      api: {image: "example/api:2.0.1", networks: {back: {aliases: [api]}}}
    networks:
      back: {}
    """,
)
def static_addresses(stack: Stack) -> Iterator[Hit]:
    """No ``ipv4_address``, ``ipv6_address`` or ``link_local_ips`` on a service network."""
    for name, spec in stack.services.items():
        networks = spec.get("networks") or {}
        if not isinstance(networks, dict):
            continue
        for network, options in networks.items():
            for key in ("ipv4_address", "ipv6_address", "link_local_ips"):
                if (options or {}).get(key):
                    yield Hit(name, f"pins {key} on network {network}", subject=f"{network}:{key}")


@rule(
    "NET-002",
    requirement=REQ,
    scope="project",
    severity=Severity.HIGH,
    title="no fixed subnets, gateways or ranges",
    hint="drop ipam.config and let the engine allocate the subnet",
    example="""
    networks:
      back:
        ipam: {config: [{subnet: 10.20.0.0/24, gateway: 10.20.0.1}]}
    services:
      api: {image: "example/api:2.0.1", networks: [back]}
    """,
    fixed="""
    networks:
      back: {driver: bridge}
    services:
      api: {image: "example/api:2.0.1", networks: [back]}
    """,
)
def fixed_ipam(stack: Stack) -> Iterator[Hit]:
    """Top-level networks carry no ``ipam.config`` with a subnet, gateway or IP range."""
    for network, spec in (stack.model.get("networks") or {}).items():
        for entry in ((spec or {}).get("ipam") or {}).get("config") or []:
            for key in ("subnet", "gateway", "ip_range", "aux_addresses"):
                if (entry or {}).get(key):
                    yield Hit("", f"network {network} fixes its {key}", subject=f"{network}:{key}")


@rule(
    "NET-003",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="no links",
    hint="remove links/external_links; a shared network already resolves service names",
    example="""
    services:
      db: {image: "postgres:17.4"}
      app: {image: "example/app:1.4.2", links: [db]}
    """,
    fixed="""
    services:
      db: {image: "postgres:17.4"}
      app: {image: "example/app:1.4.2"}  # reaches the database as "db" on the shared network
    """,
)
def legacy_links(stack: Stack) -> Iterator[Hit]:
    """``links`` and ``external_links`` are legacy; user-defined networks give DNS."""
    for name, spec in stack.services.items():
        for key in ("links", "external_links"):
            if spec.get(key):
                yield Hit(name, f"uses {key}", subject=key)


@rule(
    "NET-004",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="no IP literals in extra_hosts or dns",
    hint="use service names; host-gateway is allowed for reaching the host",
    example="""
    services:
      app: {image: "example/app:1.4.2", extra_hosts: ["db:192.0.2.10"]}
    """,
    fixed="""
    services:
      app: {image: "example/app:1.4.2", extra_hosts: ["host.docker.internal:host-gateway"]}
    """,
)
def ip_literals(stack: Stack) -> Iterator[Hit]:
    """``extra_hosts`` and ``dns`` hold no IP literals (``host-gateway`` is fine)."""
    for name, spec in stack.services.items():
        hosts = spec.get("extra_hosts") or {}
        # Compose renders the list form as "host=address"; written files may use "host:address".
        entries = hosts.items() if isinstance(hosts, dict) else (_host_entry(str(h)) for h in hosts)
        for host, address in entries:
            values = address if isinstance(address, list) else [address]
            for value in values:
                if _is_ip(str(value)):
                    yield Hit(name, f"extra_hosts maps {host} to a fixed address", subject=host)
        dns = spec.get("dns") or []
        for server in [dns] if isinstance(dns, str) else dns:
            if _is_ip(str(server)):
                yield Hit(name, "dns points to a fixed address", subject=f"dns:{server}")


@rule(
    "NET-005",
    requirement=REQ,
    severity=Severity.HIGH,
    title="no host networking",
    hint="remove network_mode: host and publish the needed port on 127.0.0.1",
    example="""
    services:
      exporter: {image: "prom/node-exporter:v1.8.2", network_mode: host}
    """,
    fixed="""
    services:
      exporter: {image: "prom/node-exporter:v1.8.2", ports: ["127.0.0.1:9100:9100"]}
    """,
)
def host_network(stack: Stack) -> Iterator[Hit]:
    """``network_mode: host`` bypasses Docker DNS and network isolation."""
    for name, spec in stack.services.items():
        if str(spec.get("network_mode") or "") == "host":
            yield Hit(name, "uses the host network", subject="network_mode")
