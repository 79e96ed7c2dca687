"""Wiring between services (REQ-SPC-OPT-003): URLs that reach a real port, OIDC issuers
that match what the provider advertises.

Ports a service listens on come from its facts record when it has one, and from
its ``expose``, published targets and listen addresses either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from checks.finding import Hit, Severity
from checks.image_facts import ImageFacts
from checks.rule import rule
from checks.rules._shared import environment, healthcheck_test, words_of
from checks.service_images import facts_for
from checks.stack import Stack

# scheme://[user[:password]@]host[:port][/path]: the userinfo is skipped, never read as the host.
URL_RE = re.compile(
    r"\b([a-z][a-z0-9+.-]*)://(?:[^\s/@\"'`]*@)?([A-Za-z0-9_.-]+)(?::(\d+))?(/[^\s\"'`,;)]*)?"
)
DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0"}
LISTEN_RE = re.compile(r"(?:0\.0\.0\.0|\[::\]|::)?:(\d{2,5})")
HEALTH_PORT_RE = re.compile(r"(?:127\.0\.0\.1|localhost|0\.0\.0\.0)[:/](?:tcp/)?(\d+)")
# Schemes whose "host" is not a network service: a bucket or container of an object
# store, a path, something in the process, an image or a secret in a secret store.
NON_NETWORK_SCHEMES = frozenset(
    {
        # object stores: s3://<bucket>/<key>, gs://<bucket>, az://<container>, ...
        *("s3", "s3a", "s3n", "gs", "gcs", "az", "azure", "abfs", "abfss", "wasb", "wasbs"),
        *("adl", "oss", "cos", "r2", "b2", "swift", "hf"),
        # files, sockets and data inside the container
        *("file", "static", "unix", "data", "local", "fs", "filesystem", "blob", "jar"),
        *("classpath", "sqlite", "sqlite3", "memory", "mem", "inmemory"),
        # in-process backends (caches, mailers, queues for development)
        *("dummy", "locmem", "null", "noop", "console", "stdout", "stderr"),
        # images and secrets named by reference
        *("docker", "oci", "docker-archive", "oci-archive", "containers-storage"),
        *("env", "vault", "op", "secret", "secrets", "ssm", "sops"),
    }
)
# Schemes that always name a network service, so a plain host that is no service is
# a broken reference even without a port. Any other scheme needs an explicit port.
NETWORK_SCHEMES = frozenset(
    {
        *("http", "https", "ws", "wss", "grpc", "grpcs", "h2c", "tcp", "udp", "tls"),
        *("postgres", "postgresql", "mysql", "mariadb", "mongodb", "redis", "rediss"),
        *("valkey", "memcached", "amqp", "amqps", "mqtt", "mqtts", "nats", "kafka"),
        *("ldap", "ldaps", "smtp", "smtps", "imap", "imaps", "ftp", "sftp", "ssh"),
        *("clickhouse", "cassandra", "neo4j", "bolt", "influxdb", "opensearch"),
    }
)


@dataclass(frozen=True)
class Listening:
    """What a service is known to listen on, inside the network (container ports).

    ``complete`` says the list is declared (a facts record or ``expose``), so a port
    missing from it is a finding. Published targets, listen addresses and the
    service's own healthcheck confirm ports without making the list complete: a
    service publishes what people open, and a listen address may name a second
    listener (MinIO's ``--console-address :9001`` beside its API on 9000).
    ``host_ports`` maps each published host port to its container port, to name the
    usual mistake of reaching a service on the port the host sees.
    """

    ports: frozenset[int]
    complete: bool
    host_ports: Mapping[int, int]


def listening_ports(spec: Mapping[str, Any], facts: ImageFacts | None) -> Listening:
    """Ports a service listens on: its record's ``ports`` and ``expose`` form the
    declared list; published targets, listen addresses (``:9001``,
    ``0.0.0.0:4180``) in its environment or command and healthcheck ports only add
    to it."""
    declared = {p.port for p in facts.ports} if facts else set()
    for item in words_of(spec, "expose"):
        text = str(item).split("/")[0]
        if text.isdecimal():
            declared.add(int(text))
    confirmed: set[int] = set()
    for value in [*environment(spec).values(), *words_of(spec, "command")]:
        match = LISTEN_RE.fullmatch(str(value or ""))
        if match:
            confirmed.add(int(match.group(1)))
    host_ports: dict[int, int] = {}
    for item in spec.get("ports") or []:
        target = item.get("target") if isinstance(item, Mapping) else None
        if isinstance(target, int):
            confirmed.add(target)
            published = str(item.get("published") or "")
            if published.isdecimal():
                host_ports[int(published)] = target
    for part in healthcheck_test(spec)[1:]:
        confirmed.update(int(p) for p in HEALTH_PORT_RE.findall(part))
    return Listening(frozenset(declared | confirmed), bool(declared), host_ports)


def names_a_network_service(scheme: str, port: str | None) -> bool:
    """Whether ``scheme://host`` names a host on the network: never for an object
    store, a file or an in-process backend (``s3://<bucket>``); always for a known
    network protocol; for any other scheme only with an explicit port."""
    parts = scheme.split("+")  # postgresql+asyncpg, git+file, redis+sentinel
    if any(part in NON_NETWORK_SCHEMES for part in parts):
        return False
    return parts[0] in NETWORK_SCHEMES or port is not None


def service_texts(stack: Stack, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) of everything a service is configured with: environment,
    command, entrypoint and read-only config files mounted from infra/."""
    for key, value in environment(spec).items():
        if value:
            yield key, value
    for key in ("command", "entrypoint"):
        for part in words_of(spec, key):
            yield key, part
    prefix = stack.facts.directory.rstrip("/") + "/" if stack.facts.directory else ""
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping) or volume.get("type") != "bind" or not prefix:
            continue
        source = str(volume.get("source") or "")
        relative = source.removeprefix(prefix) if source.startswith(prefix) else ""
        text = stack.facts.config_files.get(relative)
        if text is not None:
            yield relative, text


@rule(
    "WIRE-001",
    requirement="REQ-SPC-OPT-003",
    severity=Severity.MEDIUM,
    title="URLs between services name a real service and its port",
    hint="use http://<service>:<container port> as the target service listens on",
    example="""
    services:
      api: {image: "example/api:1.0", expose: ["8080"]}
      web:
        image: "example/web:1.0"
        environment: {API_URL: "http://api:9000/v1"}
    """,
    fixed="""
    services:
      api: {image: "example/api:1.0", expose: ["8080"]}
      web:
        image: "example/web:1.0"
        environment: {API_URL: "http://api:8080/v1"}
    """,
)
def service_urls(stack: Stack) -> Iterator[Hit]:
    """A URL in a service's environment, command or mounted config whose host is a
    plain name (no dot; a ``user:password@`` before it is not the host) must name a
    service of the stack (judged on the model with every profile enabled, since
    gateways may point at disabled profiles), and its port must be one that service
    listens on inside the network.

    Only URLs that name a network service count: an object-store bucket
    (``s3://<bucket>``, ``gs://``, ``az://``), a file, a socket or an in-process
    backend is no host; a scheme that is not a known network protocol counts only
    with an explicit port. The ports a service listens on are declared by its
    record's ``ports`` or its ``expose``; its published targets, listen addresses
    in its environment or command (``:9001``) and its own healthcheck confirm a
    port but do not complete the list, since a service publishes only what people
    open and may listen twice. Without a declared list a port is judged only when
    it is a published *host* port (containers reach the container port).
    ``http``/``https`` without a port mean 80/443.
    """
    services = stack.services
    for name, spec in services.items():
        for where, text in service_texts(stack, spec):
            for match in URL_RE.finditer(text):
                scheme, host, port_text = match.group(1), match.group(2), match.group(3)
                if (
                    "." in host
                    or host in LOCAL_HOSTS
                    or host == name
                    or host.isdecimal()
                    or not names_a_network_service(scheme, port_text)
                ):
                    continue
                target = services.get(host)
                if target is None:
                    if stack.complete:
                        yield Hit(
                            name,
                            f"{where} points at {host}, which is not a service",
                            f"{where}:{host}",
                        )
                    continue
                port = int(port_text) if port_text else DEFAULT_PORTS.get(scheme)
                if port is None:
                    continue
                listening = listening_ports(target, facts_for(stack, target))
                if port in listening.ports:
                    continue
                inside = listening.host_ports.get(port)
                if inside is not None:
                    yield Hit(
                        name,
                        f"{where} points at {host}:{port}, the port {host} is published on "
                        f"the host; other services reach it on {inside}",
                        subject=f"{where}:{host}:{port}",
                    )
                elif listening.complete:
                    listens = ", ".join(str(p) for p in sorted(listening.ports))
                    yield Hit(
                        name,
                        f"{where} points at {host}:{port}, but {host} listens on {listens}",
                        subject=f"{where}:{host}:{port}",
                    )


ISSUER_ARG_RE = re.compile(r"--oidc-issuer-url[= ](\S+)")
SKIP_ISSUER_KEYS = {"OAUTH2_PROXY_INSECURE_OIDC_SKIP_ISSUER_VERIFICATION"}


def issuers(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key, value in environment(spec).items():
        if "ISSUER" in key.upper() and value and "://" in value:
            yield key, value
    for part in words_of(spec, "command"):
        for match in ISSUER_ARG_RE.finditer(str(part)):
            yield "--oidc-issuer-url", match.group(1)


def advertised_base(spec: Mapping[str, Any]) -> str:
    """What a Keycloak puts in front of ``/realms/...``: KC_HOSTNAME or --hostname."""
    value = environment(spec).get("KC_HOSTNAME") or ""
    command = words_of(spec, "command")
    for index, part in enumerate(command):
        if part.startswith("--hostname="):
            value = part.partition("=")[2]
        elif part == "--hostname" and index + 1 < len(command):
            value = command[index + 1]
    return value.rstrip("/")


def same_origin(issuer: str, advertised: str) -> bool:
    """Compare scheme, host and port when KC_HOSTNAME is a URL, else the host only."""
    have = urlsplit(issuer)
    if "://" not in advertised:
        return (have.hostname or "") == advertised.split(":")[0]
    want = urlsplit(advertised)
    return (have.scheme, have.hostname, have.port) == (want.scheme, want.hostname, want.port)


@rule(
    "WIRE-002",
    requirement="REQ-SPC-OPT-003",
    severity=Severity.HIGH,
    title="an OIDC issuer matches what the provider advertises",
    hint="give the issuer the provider advertises (KC_HOSTNAME + /realms/<realm>)",
    example="""
    services:
      keycloak:
        image: "quay.io/keycloak/keycloak:26.1.4"
        command: [start, "--hostname=https://auth.example.com"]
      oauth2-proxy:
        image: "quay.io/oauth2-proxy/oauth2-proxy:v7.8.1"
        environment:
          OAUTH2_PROXY_OIDC_ISSUER_URL: "http://keycloak:8080/realms/platform"
    """,
    fixed="""
    services:
      keycloak:
        image: "quay.io/keycloak/keycloak:26.1.4"
        command: [start, "--hostname=https://auth.example.com"]
      oauth2-proxy:
        image: "quay.io/oauth2-proxy/oauth2-proxy:v7.8.1"
        environment:
          OAUTH2_PROXY_OIDC_ISSUER_URL: "https://auth.example.com/realms/platform"
    """,
)
def oidc_issuer(stack: Stack) -> Iterator[Hit]:
    """An OIDC client checks that the discovery document's ``issuer`` equals the
    issuer it was given, and exits on a mismatch (oauth2-proxy). A provider with a
    fixed hostname (Keycloak's ``KC_HOSTNAME`` or ``--hostname``) advertises that
    hostname whatever URL it is reached by. So an issuer configured under an
    ``*ISSUER*`` key or ``--oidc-issuer-url`` that points at such a provider, by
    service name or by its public host, must use the advertised origin. Skipped
    when the client explicitly disables issuer verification.
    """
    providers = {name: advertised_base(spec) for name, spec in stack.services.items()}
    providers = {name: base for name, base in providers.items() if base}
    if not providers:
        return
    for name, spec in stack.services.items():
        env = environment(spec)
        if any((env.get(key) or "").lower() == "true" for key in SKIP_ISSUER_KEYS):
            continue
        for key, issuer in issuers(spec):
            host = urlsplit(issuer).hostname or ""
            for provider, base in providers.items():
                public_host = urlsplit(base).hostname if "://" in base else base.split(":")[0]
                if host not in {provider, public_host} or same_origin(issuer, base):
                    continue
                yield Hit(
                    name,
                    f"{key} is {issuer}, but {provider} advertises its issuer under {base}",
                    subject=key,
                )
