"""Access policy at the gateway (spec section 4.2): every route says how it is protected.

A service that the gateway routes to declares its policy with a label:

- ``org.platform.access: sso``: every router to it carries the gateway's
  forward-auth (SSO) middleware.
- ``org.platform.access: own-login``: the app asks for its own credentials, and
  ``org.platform.access.signup-closed-by`` names the setting that keeps strangers
  from signing themselves up: ``env:NAME=value`` (the service's environment),
  ``config:<infra path>:<key>=<value>`` (a top-level key of a JSON or YAML file
  under infra/) or ``none`` (the app has no self sign-up at all).
- ``org.platform.access: public``: deliberately open, with the reason in
  ``org.platform.access.reason``.

The gateway's routes are read from the Traefik dynamic configuration it mounts
(a file under infra/ or an inline compose ``configs:`` entry), the entry points
from its static configuration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import yaml

from checks.finding import Hit, Severity
from checks.locate import SAFE_LOADER
from checks.rule import rule
from checks.rules._shared import environment
from checks.stack import Stack

REQ = "PRJ-ACCESS"
ACCESS_LABEL = "org.platform.access"
SIGNUP_LABEL = "org.platform.access.signup-closed-by"
REASON_LABEL = "org.platform.access.reason"
POLICIES = ("sso", "own-login", "public")
INTERNAL_ENTRYPOINT = "traefik"  # Traefik's own entry point, never a default for routers
INTERNAL_ROUTERS = {  # static option -> (router Traefik adds, what it answers)
    "ping": ("ping@internal", "/ping"),
    "metrics": ("prometheus@internal", "/metrics"),
    "api": ("api@internal", "/api and the dashboard"),
}


@lru_cache(maxsize=64)
def _parse(text: str, name: str) -> Any:
    """One parse per config text per run: the rule runs once per distinct service set
    (127 with ``--exhaustive``) over the same few files. Callers only read the result."""
    try:
        if name.endswith(".json"):
            return json.loads(text)
        loader = SAFE_LOADER(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except (ValueError, yaml.YAMLError, RecursionError):
        return None


def mounted_configs(stack: Stack, spec: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(name, parsed document) of each config a service mounts: a bind of a file
    under infra/, or a compose ``configs:`` entry (``file:`` or inline ``content:``)."""
    prefix = stack.facts.directory.rstrip("/") + "/" if stack.facts.directory else ""
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("type") == "bind" and prefix:
            source = str(volume.get("source") or "")
            relative = source.removeprefix(prefix) if source.startswith(prefix) else ""
            text = stack.facts.config_files.get(relative)
            if text is not None:
                yield relative, _parse(text, relative)
    declared = stack.model.get("configs") or {}
    for entry in spec.get("configs") or []:
        name = entry.get("source") if isinstance(entry, Mapping) else entry
        config = declared.get(name) if isinstance(declared, Mapping) else None
        if not isinstance(config, Mapping):
            continue
        if isinstance(config.get("content"), str):
            yield f"configs.{name}", _parse(config["content"], str(name))
        elif isinstance(config.get("file"), str) and config["file"].startswith(prefix):
            relative = config["file"].removeprefix(prefix)
            text = stack.facts.config_files.get(relative)
            if text is not None:
                yield relative, _parse(text, relative)


@dataclass(frozen=True)
class Gateway:
    service: str
    spec: Mapping[str, Any]
    dynamic: Mapping[str, Any]  # the merged ``http`` section
    static: Mapping[str, Any]

    @property
    def middlewares(self) -> Mapping[str, Any]:
        found = self.dynamic.get("middlewares")
        return found if isinstance(found, Mapping) else {}

    def is_sso(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """A forward-auth middleware, or a chain that contains one."""
        name = name.split("@")[0]
        spec = self.middlewares.get(name)
        if not isinstance(spec, Mapping) or name in seen:
            return False
        if isinstance(spec.get("forwardAuth"), Mapping):
            return True
        chain = spec.get("chain")
        inner = chain.get("middlewares") if isinstance(chain, Mapping) else None
        return any(self.is_sso(str(m), seen | {name}) for m in inner or [])

    def entrypoints(self) -> dict[str, Mapping[str, Any]]:
        found = self.static.get("entryPoints")
        if not isinstance(found, Mapping):
            return {}
        return {str(k): v if isinstance(v, Mapping) else {} for k, v in found.items()}

    def published_entrypoints(self) -> set[str]:
        targets = {
            int(p["target"])
            for p in self.spec.get("ports") or []
            if isinstance(p, Mapping) and str(p.get("target", "")).isdecimal()
        }
        return {
            name
            for name, entry in self.entrypoints().items()
            if str(entry.get("address", "")).rpartition(":")[2].split("/")[0].isdecimal()
            and int(str(entry.get("address")).rpartition(":")[2].split("/")[0]) in targets
        }

    def entrypoint_sso(self, name: str) -> bool:
        http = self.entrypoints().get(name, {}).get("http")
        chain = http.get("middlewares") if isinstance(http, Mapping) else None
        return any(self.is_sso(str(m)) for m in chain or [])

    def router_entrypoints(self, router: Mapping[str, Any]) -> list[str]:
        explicit = router.get("entryPoints")
        if isinstance(explicit, list) and explicit:
            return [str(e) for e in explicit]
        defaults = [n for n, e in self.entrypoints().items() if e.get("asDefault")]
        names = defaults or list(self.entrypoints())
        return [n for n in names if n != INTERNAL_ENTRYPOINT] or ["(default)"]

    def backends(self, reference: str) -> list[str]:
        """Compose service names behind a Traefik service: the hosts of its servers."""
        name = reference.split("@")[0]
        if reference.endswith("@internal"):
            return [self.service]
        services = self.dynamic.get("services")
        spec = services.get(name) if isinstance(services, Mapping) else None
        balancer = spec.get("loadBalancer") if isinstance(spec, Mapping) else None
        servers = balancer.get("servers") if isinstance(balancer, Mapping) else None
        hosts = []
        for server in servers or []:
            url = str(server.get("url", "")) if isinstance(server, Mapping) else ""
            host = urlsplit(url).hostname or ""
            if host and host not in hosts:
                hosts.append(host)
        return hosts


def gateways(stack: Stack) -> Iterator[Gateway]:
    for name, spec in stack.services.items():
        dynamic: dict[str, Any] = {}
        static: Mapping[str, Any] = {}
        for _, document in mounted_configs(stack, spec):
            if not isinstance(document, Mapping):
                continue
            http = document.get("http")
            if isinstance(http, Mapping) and isinstance(http.get("routers"), Mapping):
                for section, values in http.items():
                    if isinstance(values, Mapping):
                        dynamic.setdefault(str(section), {}).update(values)
            if isinstance(document.get("entryPoints"), Mapping):
                static = document
        if dynamic:
            yield Gateway(name, spec, dynamic, static)


def signup_closed(stack: Stack, spec: Mapping[str, Any], evidence: str) -> str:
    """Why ``evidence`` does not hold for a service, or "" when it does."""
    kind, _, rest = evidence.partition(":")
    if evidence == "none":
        return ""
    if kind == "env":
        key, _, want = rest.partition("=")
        have = environment(spec).get(key)
        return "" if have == want else f"its environment sets {key}={have}, not {want}"
    if kind == "config":
        path, _, setting = rest.rpartition(":")
        key, _, want = setting.partition("=")
        text = stack.facts.config_files.get(path)
        document = _parse(text, path) if text is not None else None
        if not isinstance(document, Mapping):
            return f"{path} is not a configuration file under infra/"
        have = document.get(key)
        shown = json.dumps(have) if not isinstance(have, str) else have
        return "" if shown == want else f"{path} sets {key} to {shown}, not {want}"
    return f"{SIGNUP_LABEL} is {evidence!r}; use env:NAME=value, config:<path>:<key>=value or none"


def _labels(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = spec.get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _judge(stack: Stack, router: str, service: str, protected: bool) -> Iterator[Hit]:
    labels = _labels(stack.services[service])
    policy = str(labels.get(ACCESS_LABEL) or "")
    where = f"router {router} routes to {service}"
    if policy not in POLICIES:
        declared = f"declares {ACCESS_LABEL}: {policy}" if policy else f"declares no {ACCESS_LABEL}"
        yield Hit(service, f"{where}, which {declared}", subject=router)
    elif policy == "sso" and not protected:
        yield Hit(service, f"{where} without the gateway's SSO middleware", subject=router)
    elif policy == "own-login" and not protected:
        evidence = str(labels.get(SIGNUP_LABEL) or "")
        problem = (
            signup_closed(stack, stack.services[service], evidence)
            if evidence
            else f"no {SIGNUP_LABEL} says what keeps sign-up closed"
        )
        if problem:
            yield Hit(service, f"{where} without SSO, and as to its own login: {problem}", router)
    elif policy == "public" and not str(labels.get(REASON_LABEL) or "").strip():
        yield Hit(service, f"{where} as public, but {REASON_LABEL} gives no reason", router)


@rule(
    "ACCESS-001",
    requirement=REQ,
    severity=Severity.HIGH,
    title="every gateway route follows the access policy its service declares",
    hint=(
        f"add the SSO middleware to the router, or declare the service's {ACCESS_LABEL} "
        "(sso, own-login with its closed sign-up, public with a reason)"
    ),
    example="""
    configs:
      routes:
        content: |
          http:
            middlewares:
              sso: {forwardAuth: {address: "http://auth-proxy:4180/"}}
            routers:
              metrics: {rule: "Host(`metrics.example.org`)", service: metrics}
            services:
              metrics: {loadBalancer: {servers: [{url: "http://metrics:9090"}]}}
    services:
      gateway:
        image: "traefik:v3.3.4"
        configs: [{source: routes, target: /etc/traefik/dynamic/routes.yml}]
      metrics:
        image: "prom/prometheus:v3.2.1"
        labels: {org.platform.access: sso}
    """,
    fixed="""
    configs:
      routes:
        content: |
          http:
            middlewares:
              sso: {forwardAuth: {address: "http://auth-proxy:4180/"}}
            routers:
              metrics:
                rule: "Host(`metrics.example.org`)"
                service: metrics
                middlewares: [sso]
            services:
              metrics: {loadBalancer: {servers: [{url: "http://metrics:9090"}]}}
    services:
      gateway:
        image: "traefik:v3.3.4"
        configs: [{source: routes, target: /etc/traefik/dynamic/routes.yml}]
      metrics:
        image: "prom/prometheus:v3.2.1"
        labels: {org.platform.access: sso}
    """,
)
def route_policy(stack: Stack) -> Iterator[Hit]:
    """The spec puts access control for people at the gateway, and no service counts
    as protected unless a middleware does it and the project says so. So every
    router of the gateway's Traefik dynamic configuration is judged against the
    ``org.platform.access`` label of each compose service behind it (the hosts of
    its ``loadBalancer`` servers): ``sso`` needs a forward-auth middleware on the
    router, directly, in a chain or on its entry point; ``own-login`` needs either
    that or the setting named in ``org.platform.access.signup-closed-by`` to hold;
    ``public`` needs ``org.platform.access.reason``; a service without the label, or
    with another value, is a route nobody declared. Traefik's own routers count
    too: ``ping``, ``metrics`` or an insecure ``api`` on an entry point the gateway
    publishes answer without credentials. The finding names the service, and the
    router as its subject (so one route can be excepted in infra/exceptions.yml).
    Backends of profiles that are not enabled are judged in the combinations that
    enable them.
    """
    for gateway in gateways(stack):
        routers = gateway.dynamic.get("routers") or {}
        for router, spec in sorted(routers.items()) if isinstance(routers, Mapping) else []:
            if not isinstance(spec, Mapping):
                continue
            entrypoints = gateway.router_entrypoints(spec)
            middlewares = spec.get("middlewares") or []
            protected = any(gateway.is_sso(str(m)) for m in middlewares) or all(
                gateway.entrypoint_sso(e) for e in entrypoints
            )
            for service in gateway.backends(str(spec.get("service") or "")):
                if service in stack.services:
                    yield from _judge(stack, str(router), service, protected)
        published = gateway.published_entrypoints()
        for option, (router, answers) in INTERNAL_ROUTERS.items():
            value = gateway.static.get(option)
            if value is None:
                continue
            section: Any = value if isinstance(value, Mapping) else {}
            if option == "metrics":
                section = section.get("prometheus")
                if not isinstance(section, Mapping):
                    continue
            if option == "api":
                if not section.get("insecure"):
                    continue
                entrypoint = INTERNAL_ENTRYPOINT
            else:
                if section.get("manualRouting"):
                    continue
                entrypoint = str(section.get("entryPoint") or INTERNAL_ENTRYPOINT)
            if entrypoint in published:
                yield Hit(
                    gateway.service,
                    f"router {router} answers {answers} without credentials on the "
                    f"published entry point {entrypoint}",
                    subject=router,
                )
