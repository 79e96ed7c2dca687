"""Who a container runs as, what it may write, which capabilities its binaries need.

IMG-006 (PRJ-IMAGES) holds the state-owner label to the runtime user; IMG-007 and
IMG-008 (SEC-SPC-OPT-001) hold capabilities and root to what the image's facts
record says. IMG-006 and IMG-007 skip a service whose image has no record (IMG-001
reports it); IMG-008 still judges its ``user:``, and ``not_judged`` names the rest.
IMG-009 (SEC-SPC-OPT-001) holds ``user:`` away from the root group.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checks.capabilities import DOCKER_DEFAULT_CAPABILITIES, normalise_capability
from checks.conventions import STATE_OWNER_LABEL
from checks.explain_examples import example_with_facts
from checks.finding import Hit, Severity
from checks.image_facts import ImageFacts
from checks.rule import rule
from checks.rules._shared import words_of
from checks.service_images import facts_for, with_facts
from checks.stack import Stack

ROOT_USERS = {"0", "root"}


def split_owner(text: str) -> tuple[str, str]:
    uid, _, gid = text.strip().partition(":")
    return uid, gid


def runtime_user(spec: Mapping[str, Any], facts: ImageFacts) -> tuple[str, str]:
    """(uid:gid or name, where it comes from) of the container's main process."""
    user = str(spec.get("user") or "")
    if user:
        return user, "user:"
    return facts.user.runtime, f"per {facts.file}"


def effective_capabilities(spec: Mapping[str, Any]) -> set[str]:
    dropped = {normalise_capability(c) for c in words_of(spec, "cap_drop")}
    added = {normalise_capability(c) for c in words_of(spec, "cap_add")}
    kept = set() if "ALL" in dropped else set(DOCKER_DEFAULT_CAPABILITIES - dropped)
    return kept | added


def owner_matches(expected: str, label: str) -> bool:
    want_uid, want_gid = split_owner(expected)
    have_uid, have_gid = split_owner(label)
    if want_uid != have_uid:
        return False
    return not want_gid or not have_gid or want_gid == have_gid


@rule(
    "IMG-006",
    requirement="PRJ-IMAGES",
    severity=Severity.HIGH,
    title="state directories are owned by the user the container runs as",
    hint='label the service org.platform.state-owner: "<uid>:<gid>" of its runtime user',
    example=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            labels: {org.platform.state-owner: "0:0"}
            volumes: ["${DEFAULT_MOUNT_VOLUME_PATH}/app:/data"]
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            labels: {org.platform.state-owner: "1000:1000"}
            volumes: ["${DEFAULT_MOUNT_VOLUME_PATH}/app:/data"]
        """,
    ),
)
def state_owner(stack: Stack) -> Iterator[Hit]:
    """``invoke up`` creates each writable bind under ``${DEFAULT_MOUNT_VOLUME_PATH}``
    (mode 0750) and chowns it to the ``org.platform.state-owner`` label. The label
    must equal the uid:gid the container runs as: ``user:`` when set, else the
    owner the record gives that path (``state:``), else its ``user.runtime``.
    Otherwise a process without ``DAC_OVERRIDE`` (``cap_drop: [ALL]``) cannot
    enter its own data directory. A root-run service needs no label. Named users
    cannot be resolved without the image and are not judged.
    """
    root = stack.facts.state_root
    if not root:
        return
    for name, spec, facts in with_facts(stack):
        labels = spec.get("labels") or {}
        label = str(labels.get(STATE_OWNER_LABEL) or "") if isinstance(labels, Mapping) else ""
        for volume in spec.get("volumes") or []:
            if (
                not isinstance(volume, Mapping)
                or volume.get("type") != "bind"
                or volume.get("read_only")
            ):
                continue
            if not (str(volume.get("source") or "") + "/").startswith(root + "/"):
                continue
            target = str(volume.get("target") or "")
            user, origin = runtime_user(spec, facts)
            if not spec.get("user"):
                user = facts.state_owner(target)
            uid, _ = split_owner(user)
            if not uid.isdecimal():
                continue
            if not label:
                if uid != "0":
                    yield Hit(
                        name,
                        f"state {target} has no {STATE_OWNER_LABEL} label; "
                        f"it runs as {user} ({origin})",
                        subject=target,
                    )
            elif not owner_matches(user, label):
                yield Hit(
                    name,
                    f"{STATE_OWNER_LABEL} is {label} but it runs as {user} ({origin}), "
                    f"so it cannot write {target}",
                    subject=target,
                )
            break  # one label per service: judge it once


@rule(
    "IMG-007",
    requirement="SEC-SPC-OPT-001",
    severity=Severity.HIGH,
    title="binaries with file capabilities get those capabilities",
    hint="add the capability to cap_add and register it in infra/exceptions.yml with an ADR",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0", cap_drop: [ALL]}
        """,
        file_capabilities=[
            {
                "path": "/usr/bin/python3",
                "capabilities": ["NET_BIND_SERVICE"],
                "source": "dockerfile",
            }
        ],
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0", cap_drop: [ALL], cap_add: [NET_BIND_SERVICE]}
        """,
        file_capabilities=[
            {
                "path": "/usr/bin/python3",
                "capabilities": ["NET_BIND_SERVICE"],
                "source": "dockerfile",
            }
        ],
    ),
)
def file_capabilities_granted(stack: Stack) -> Iterator[Hit]:
    """A binary carrying file capabilities (``setcap``) cannot be executed when the
    container's bounding set lacks them: the kernel refuses the exec with
    "Operation not permitted" (pgAdmin's python under ``cap_drop: [ALL]``). Each
    capability the record lists under ``file_capabilities`` must therefore be in
    ``cap_add`` (or survive ``cap_drop``). Adding it is itself a PRIV-005 finding
    until it is registered in ``infra/exceptions.yml`` with an ADR, so the two
    rules together ask for exactly the capability the image needs, documented.
    """
    for name, spec, facts in with_facts(stack):
        granted = effective_capabilities(spec)
        for binary in facts.file_capabilities:
            for cap in binary.capabilities:
                if cap not in granted:
                    yield Hit(
                        name,
                        f"{binary.path} in {facts.image} carries file capability {cap}, "
                        "which the container drops: exec fails with Operation not permitted",
                        subject=cap,
                    )


def not_judged(stack: Stack) -> list[str]:
    """The services IMG-008 cannot judge: no ``user:`` and no facts record for the
    image, so whether they run as root is unknown (not passed)."""
    return [
        name
        for name, spec in stack.services.items()
        if not spec.get("user") and facts_for(stack, spec) is None
    ]


@rule(
    "IMG-008",
    requirement="SEC-SPC-OPT-001",
    severity=Severity.HIGH,
    title="no service runs as root",
    hint="set user: to the image's unprivileged uid:gid, or register the exception with an ADR",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
        user={"default": "0:0", "runtime": "0:0", "source": "dockerfile"},
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0", user: "1000:1000"}
        """,
        user={"default": "0:0", "runtime": "0:0", "source": "dockerfile"},
    ),
)
def runs_as_root(stack: Stack) -> Iterator[Hit]:
    """A service runs as root when ``user:`` is ``root``, ``0``, ``0:0``,
    ``root:root`` (any uid 0), or when it sets no ``user:`` and the record says
    the image's main process ends up as uid 0 (``user.runtime``). An entrypoint
    that switches user (gosu, su-exec, setpriv) without ``SETUID`` and ``SETGID``
    in the effective capability set cannot do it: it fails or stays root, so that
    is reported too. One registry entry can except a service, with an ADR.

    A service that sets no ``user:`` and whose image has no facts record is not
    judged: whether it runs as root is unknown (IMG-001 asks for the record).
    """
    for name, spec in stack.services.items():
        user = str(spec.get("user") or "")
        uid, _ = split_owner(user)
        if uid in ROOT_USERS:
            yield Hit(name, f"runs as root (user: {user})", subject="root")
            continue
        facts = facts_for(stack, spec)
        if user or facts is None:
            continue
        if split_owner(facts.user.runtime)[0] == "0":
            yield Hit(name, f"{facts.image} runs as root and user: is not set", subject="root")
            continue
        missing = {"SETUID", "SETGID"} - effective_capabilities(spec)
        if facts.entrypoint.switches_with not in {"none", "s6"} and missing:
            yield Hit(
                name,
                f"the entrypoint of {facts.image} switches to {facts.user.runtime} with "
                f"{facts.entrypoint.switches_with}, but cap_drop removes "
                f"{' and '.join(sorted(missing))}: "
                f"set user: {facts.user.runtime} instead",
                subject="user-switch",
            )


ROOT_GROUPS = {"0", "root"}


def built_for_root_group(owner: str) -> bool:
    """A non-root uid in group 0: the user of an image made for any uid in group 0.
    An image without ``USER`` (``0:0``) is root, not built for the root group."""
    uid, gid = split_owner(owner)
    return bool(uid) and uid not in ROOT_USERS and gid in ROOT_GROUPS


@rule(
    "IMG-009",
    requirement="SEC-SPC-OPT-001",
    severity=Severity.MEDIUM,
    title="no service runs in the root group",
    hint="set user: to an unprivileged uid:gid (not group 0), as the image documents it",
    example="""
    services:
      app: {image: "example/app:1.0", user: "1000:root"}
    """,
    fixed="""
    services:
      app: {image: "example/app:1.0", user: "1000:1000"}
    """,
)
def runs_in_root_group(stack: Stack) -> Iterator[Hit]:
    """``user: <uid>:0`` or ``<uid>:root`` gives a non-root process the file access
    of the root group: every file in the image and on its binds that is group-owned
    by 0 and group-writable. A root uid is IMG-008's finding, not this one.

    Images built to run any uid in group 0 (the OpenShift convention: directories
    ``g=u`` and owned by group 0) say so in their facts record, whose own user is in
    group 0 with a non-root uid (``user.default`` or ``user.runtime`` such as
    ``472:0``; an image without ``USER`` is ``0:0``, which does not count); keeping that
    group is what the image expects, so it is not reported.
    """
    for name, spec in stack.services.items():
        user = str(spec.get("user") or "")
        uid, gid = split_owner(user)
        if uid in ROOT_USERS or gid not in ROOT_GROUPS:
            continue
        facts = facts_for(stack, spec)
        if facts is not None and any(
            built_for_root_group(owner) for owner in (facts.user.default, facts.user.runtime)
        ):
            continue
        yield Hit(name, f"runs in the root group (user: {user})", subject="root-group")
