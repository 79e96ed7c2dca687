"""Wiring between services (REQ-SPC-OPT-003): URLs that reach a real port, OIDC issuers
that match what the provider advertises.

Ports a service listens on come from its facts record when it has one, and from
its ``expose``, published targets and listen addresses either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from checks.finding import Hit, Severity
from checks.image_facts import ImageFacts
from checks.rule import rule
from checks.rules._shared import environment, healthcheck_test, words_of
from checks.service_images import facts_for
from checks.stack import Stack

URL_RE = re.compile(r"\b([a-z][a-z0-9+.-]*)://([A-Za-z0-9_.-]+)(?::(\d+))?(/[^\s\"'`,;)]*)?")
DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0"}
LISTEN_RE = re.compile(r"(?:0\.0\.0\.0|\[::\]|::)?:(\d{2,5})")
NON_NETWORK_SCHEMES = {"file", "static", "unix", "data"}
HEALTH_PORT_RE = re.compile(r"(?:127\.0\.0\.1|localhost|0\.0\.0\.0)[:/](?:tcp/)?(\d+)")


def listening_ports(spec: Mapping[str, Any], facts: ImageFacts | None) -> tuple[set[int], bool]:
    """Ports a service is known to listen on, and whether that list can be trusted as
    complete: the record's ports, ``expose``, published targets and listen addresses
    (``:9001``, ``0.0.0.0:4180``) count; a healthcheck's port alone does not, since a
    probe often uses a management port next to the main one."""
    ports = {p.port for p in facts.ports} if facts else set()
    for item in words_of(spec, "expose"):
        text = str(item).split("/")[0]
        if text.isdigit():
            ports.add(int(text))
    for item in spec.get("ports") or []:
        target = item.get("target") if isinstance(item, Mapping) else None
        if isinstance(target, int):
            ports.add(target)
    values = [*environment(spec).values(), *words_of(spec, "command")]
    for value in values:
        match = LISTEN_RE.fullmatch(str(value or ""))
        if match:
            ports.add(int(match.group(1)))
    judgeable = bool(ports)
    for part in healthcheck_test(spec)[1:]:
        ports.update(int(p) for p in HEALTH_PORT_RE.findall(part))
    return ports, judgeable


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
    plain name (no dot) must name a service of the stack (judged on the model with
    every profile enabled, since gateways may point at disabled profiles), and its
    port must be one that service listens on: from its record's ``ports``,
    ``expose``, published targets, listen addresses in its environment or command
    (``:9001``), or its own healthcheck. A healthcheck port alone is not enough to
    judge (probes often use a management port); ``http``/``https`` without a port
    mean 80/443.
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
                    or host.isdigit()
                    or scheme in NON_NETWORK_SCHEMES
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
                known, judgeable = listening_ports(target, facts_for(stack, target))
                if port is not None and judgeable and port not in known:
                    listens = ", ".join(str(p) for p in sorted(known))
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
