"""Project hygiene: pinned images, loopback ports, state location, env documentation."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from checks.addresses import is_loopback
from checks.finding import Hit, Severity
from checks.rule import rule
from checks.rules._shared import is_credential_key, is_switch
from checks.service_images import image_name
from checks.stack import Stack

REQ = "PRJ-HYGIENE"  # project ID: reproducible, local-only, documented configuration
FLOATING_TAGS = frozenset(
    {
        "latest",
        "main",
        "master",
        "stable",
        "edge",
        "nightly",
        "dev",
        "develop",
        "beta",
        "rc",
        "alpine",
        "slim",
        "lts",
        "current",
        "next",
        "canary",
        "testing",
        "unstable",
    }
)
# Docker's reference grammar, simplified: an optional registry host, lowercase
# path components, then a tag and/or a sha256 digest.
PATH_RE = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
REGISTRY_RE = re.compile(r"[a-zA-Z0-9.-]+(?::\d+)?")
TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")


def parse_reference(image: str) -> tuple[str, str, str] | None:
    """``(path, tag, digest)`` of a valid image reference, or None when it is invalid."""
    rest, _, digest = image.partition("@")
    if digest and not DIGEST_RE.fullmatch(digest):
        return None
    slash, colon = rest.rfind("/"), rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, "")
    first, _, remainder = name.partition("/")
    is_registry = bool(remainder) and ("." in first or ":" in first or first == "localhost")
    if is_registry and not REGISTRY_RE.fullmatch(first):
        return None
    path = remainder if is_registry else name
    if not PATH_RE.fullmatch(path) or (tag and not TAG_RE.fullmatch(tag)):
        return None
    return path, tag, digest


def _lower_repository(image: str) -> str:
    """``image`` with its repository path lowercased (tag and digest untouched)."""
    name, at, digest = image.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon:]) if colon > slash else (name, "")
    return repository.lower() + tag + at + digest


@rule(
    "HYG-001",
    requirement=REQ,
    severity=Severity.HIGH,
    title="images pinned to an exact, valid reference",
    hint="pin an exact version tag such as postgres:17.4-alpine (or a sha256 digest)",
    example="""
    services:
      db: {image: "postgres:latest"}
    """,
    fixed="""
    services:
      db: {image: "postgres:17.4-alpine"}
    """,
)
def pinned_images(stack: Stack) -> Iterator[Hit]:
    """Every image is a valid reference with an exact tag or digest: no missing tag, no
    ``latest``/``main``/... and no major-only tag such as ``postgres:17``. Uppercase
    repository names are rejected too: compose accepts them, the engine does not.

    A service with ``build:`` is built here, and its ``image:`` (if any) only names
    the local result: nothing is pulled, so its tag is not a pinning question. The
    reference must still be valid (the engine refuses to tag an invalid one), and
    ``pull_policy: always`` does pull it, so that is judged like any image."""
    for name, spec in stack.services.items():
        image = image_name(spec)
        if not image:
            if not spec.get("build"):
                yield Hit(name, "has neither image nor build", subject="image")
            continue
        built_here = bool(spec.get("build")) and str(spec.get("pull_policy")) != "always"
        parsed = parse_reference(image)
        if parsed is None:
            if parse_reference(_lower_repository(image)) is not None:
                why = "its repository is not lowercase (compose accepts it, the engine refuses it)"
            else:
                why = "it is not a valid reference"
            yield Hit(name, f"image {image} cannot be pulled: {why}", subject=image)
            continue
        _, tag, digest = parsed
        if digest or built_here:
            continue
        if not tag:
            yield Hit(name, f"image {image} has no tag", subject=image)
        elif tag.lower() in FLOATING_TAGS or re.fullmatch(r"v?\d+", tag):
            yield Hit(name, f"image {image} uses floating tag {tag}", subject=image)


@rule(
    "HYG-002",
    requirement=REQ,
    severity=Severity.HIGH,
    title="published ports bind to 127.0.0.1",
    hint='publish as "127.0.0.1:<host>:<container>" and reach it through the gateway',
    example="""
    services:
      web: {image: "nginx:1.27.3", ports: ["8080:80"]}
    """,
    fixed="""
    services:
      web: {image: "nginx:1.27.3", ports: ["127.0.0.1:8080:80"]}
    """,
)
def loopback_ports(stack: Stack) -> Iterator[Hit]:
    """A published port without a loopback ``host_ip`` listens on every interface."""
    for name, spec in stack.services.items():
        for port in spec.get("ports") or []:
            if not isinstance(port, dict) or not port.get("published"):
                continue
            host_ip = str(port.get("host_ip") or "0.0.0.0")
            if not is_loopback(host_ip):
                yield Hit(
                    name,
                    f"publishes {port.get('published')}->{port.get('target')} on {host_ip}",
                    subject=f"{port.get('published')}/{port.get('protocol', 'tcp')}",
                )


@rule(
    "HYG-003",
    requirement=REQ,
    severity=Severity.MEDIUM,
    title="state lives under ${DEFAULT_MOUNT_VOLUME_PATH}",
    hint="bind-mount ${DEFAULT_MOUNT_VOLUME_PATH}/<service> instead of a named volume",
    example="""
    services:
      db: {image: "postgres:17.4", volumes: ["pgdata:/var/lib/postgresql/data"]}
    volumes:
      pgdata: {}
    """,
    fixed="""
    services:
      db:
        image: "postgres:17.4"
        volumes: ["${DEFAULT_MOUNT_VOLUME_PATH}/postgres:/var/lib/postgresql/data"]
    """,
)
def state_location(stack: Stack) -> Iterator[Hit]:
    """Writable mounts are binds under ``DEFAULT_MOUNT_VOLUME_PATH`` (as set in
    .env.example); named volumes hide state from backups. Read-only binds
    (configuration) and tmpfs are fine."""
    root = stack.facts.state_root
    for name, spec in stack.services.items():
        for volume in spec.get("volumes") or []:
            if not isinstance(volume, dict) or volume.get("read_only"):
                continue
            kind, source, target = (
                volume.get("type"),
                str(volume.get("source") or ""),
                volume.get("target"),
            )
            if kind == "volume":
                yield Hit(name, f"keeps {target} in a named volume", subject=str(target))
            elif kind == "bind" and (not root or not (source + "/").startswith(root + "/")):
                yield Hit(name, f"writes {target} outside DEFAULT_MOUNT_VOLUME_PATH", str(target))


@rule(
    "HYG-004",
    requirement=REQ,
    scope="project",
    severity=Severity.MEDIUM,
    title="every variable is documented in .env.example",
    hint="add the variable to .env.example with a safe default and a one-line comment",
    example="""
    # .env.example has no NGINX_TAG
    services:
      web: {image: "nginx:${NGINX_TAG:-1.27.3}"}
    """,
    fixed="""
    # add "NGINX_TAG=1.27.3  # nginx release" to .env.example, or drop the variable
    services:
      web: {image: "nginx:1.27.3"}
    """,
)
def documented_variables(stack: Stack) -> Iterator[Hit]:
    """Each ``${VAR}`` any compose file reads has an entry in .env.example (``$$``
    escapes are not variables)."""
    for variable, path in sorted(stack.facts.variables.items()):
        if variable not in stack.facts.env_example:
            yield Hit(
                "",
                f"{variable} (used in {path}) is missing from .env.example",
                variable,
                source=path,
            )


def _looks_random(value: str) -> bool:
    if len(value) < 20 or value.startswith("/"):  # short values and paths are not tokens
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy > 4.0


@rule(
    "HYG-005",
    requirement=REQ,
    scope="project",
    severity=Severity.HIGH,
    title=".env.example holds no secret-looking values",
    hint="leave the value empty and move the secret into a file under secrets/",
    example="""
    # .env.example
    ADMIN_PASSWORD=hunter2
    """,
    fixed="""
    # .env.example: no value; the secret lives in secrets/admin_password
    ADMIN_PASSWORD=
    """,
)
def example_env_secrets(stack: Stack) -> Iterator[Hit]:
    """.env.example is committed: a credential-shaped key with a value, or a value that
    looks like a random token, is a leaked secret; a yes/no or true/false switch
    (``MYSQL_RANDOM_ROOT_PASSWORD=yes``) is not. Values are never printed."""
    for key, value in stack.facts.env_example.items():
        if (is_credential_key(key) and value and not is_switch(value)) or _looks_random(value):
            yield Hit(
                "", f".env.example gives {key} a secret-looking value", key, source=".env.example"
            )
