"""Centralised logging through the Loki driver (spec section 9)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from checks.finding import Hit, Severity
from checks.rule import rule
from checks.service_images import image_name
from checks.stack import Stack

REQ = "PRJ-LOG"  # project ID: spec section 9, "Loki logging ... used consistently"
HOST_REACHABLE = {"127.0.0.1", "localhost", "::1", "[::1]", "host.docker.internal"}
MAX_RETRIES = 5


def _is_loki(image: str) -> bool:
    return image.split("@")[0].split(":")[0].endswith("grafana/loki")


@rule(
    "LOG-001",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="services log through the Loki driver",
    hint="extend a template from infra/common-optimizations.yml instead of setting logging",
    example="""
    services:
      app: {image: "example/app:1.4.2", logging: {driver: json-file}}
    """,
    fixed="""
    services:
      app: {image: "example/app:1.4.2", logging: {driver: loki, options: {loki-url: "http://127.0.0.1:3100/loki/api/v1/push"}}}
    """,
)
def loki_driver(stack: Stack) -> Iterator[Hit]:
    """Every service uses the ``loki`` logging driver from the shared template, unless
    registered (Loki itself is the standing exception)."""
    for name, spec in stack.services.items():
        driver = (spec.get("logging") or {}).get("driver") or "engine default"
        if driver != "loki":
            yield Hit(name, f"logs with driver {driver}, not loki", subject=driver)


@rule(
    "LOG-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="loki-url is reachable from the host",
    hint="point loki-url at the port Loki publishes on 127.0.0.1",
    example="""
    services:
      app:
        image: "example/app:1.4.2"
        logging: {driver: loki, options: {loki-url: "http://loki:3100/loki/api/v1/push"}}
    """,
    fixed="""
    services:
      app:
        image: "example/app:1.4.2"
        logging: {driver: loki, options: {loki-url: "http://127.0.0.1:3100/loki/api/v1/push"}}
    """,
)
def loki_url_reachable(stack: Stack) -> Iterator[Hit]:
    """The driver plugin runs in the host's network namespace, so ``loki-url`` must be
    a loopback address; a compose DNS name such as ``loki`` never resolves there."""
    for name, spec in stack.services.items():
        logging = spec.get("logging") or {}
        if logging.get("driver") != "loki":
            continue
        url = str((logging.get("options") or {}).get("loki-url") or "")
        host = urlsplit(url).hostname or ""
        if not url:
            yield Hit(name, "loki driver without loki-url", subject="loki-url")
        elif host not in HOST_REACHABLE:
            yield Hit(name, f"loki-url host {host} is not reachable from the host", subject=host)


@rule(
    "LOG-003",
    requirement=REQ,
    severity=Severity.HIGH,
    title="Loki does not ship its own logs through the Loki driver",
    hint="give the Loki service a local or json-file logging driver",
    example="""
    services:
      loki: {image: "grafana/loki:3.5.1", logging: {driver: loki, options: {loki-url: "http://127.0.0.1:3100/loki/api/v1/push"}}}
    """,
    fixed="""
    services:
      loki: {image: "grafana/loki:3.5.1", logging: {driver: local}}
    """,
)
def loki_not_self_logging(stack: Stack) -> Iterator[Hit]:
    """A Loki container logging to itself blocks when it is down or restarting."""
    for name, spec in stack.services.items():
        if _is_loki(image_name(spec)) and (spec.get("logging") or {}).get("driver") == "loki":
            yield Hit(name, "Loki logs through its own driver")


@rule(
    "LOG-004",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="Loki driver is non-blocking with bounded retries",
    hint="set mode: non-blocking, loki-retries: 2, loki-max-backoff: 800ms, loki-timeout: 1s",
    example="""
    services:
      app:
        image: "example/app:1.4.2"
        logging:
          driver: loki
          options: {loki-url: "http://127.0.0.1:3100/loki/api/v1/push", loki-retries: "0"}
    """,
    fixed="""
    services:
      app:
        image: "example/app:1.4.2"
        logging:
          driver: loki
          options:
            loki-url: "http://127.0.0.1:3100/loki/api/v1/push"
            mode: non-blocking
            loki-retries: "2"
            loki-max-backoff: 800ms
            loki-timeout: 1s
    """,
)
def loki_bounded(stack: Stack) -> Iterator[Hit]:
    """With a down Loki the driver can hang ``docker stop``. The options must say
    ``mode: non-blocking``, ``loki-retries`` between 1 and 5 (0 means forever) and set
    ``loki-timeout``."""
    for name, spec in stack.services.items():
        logging = spec.get("logging") or {}
        if logging.get("driver") != "loki":
            continue
        options = logging.get("options") or {}
        if options.get("mode") != "non-blocking":
            yield Hit(name, "loki driver is not in non-blocking mode", subject="mode")
        retries = str(options.get("loki-retries") or "")
        if not retries.isdecimal() or not 1 <= int(retries) <= MAX_RETRIES:
            yield Hit(name, f"loki-retries must be 1..{MAX_RETRIES}", subject="loki-retries")
        if not options.get("loki-timeout"):
            yield Hit(name, "loki-timeout is not set", subject="loki-timeout")
