"""Talking to a Swarm through the docker CLI: preflight probe, deploy, converge, undeploy.

``docker stack deploy`` exists only in the CLI, so everything here goes through
it, against whatever engine ``DOCKER_HOST`` names. Every call is a child like
compose's (``stackctl.project.children.spawn_child``): bounded in time and memory, in its
own process group, reached by forwarded signals and killed on timeout or
interrupt, so no docker child outlives the command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets as random
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.errors import EnvironmentProblem, StackError
from stackctl.project.children import CHILDREN, Bounds, run_child, spawn_child, stop_child
from stackctl.swarm import DEFAULT_PROBE_IMAGE
from stackctl.swarm.gaps import NodeProbe

NAMESPACE_LABEL = "com.docker.stack.namespace"
PROBE_LABEL = "org.platform.stackctl-probe"
# The probe's whole job: exit 0 only when the daemon gave it no-new-privileges.
PROBE_COMMAND = ("sh", "-c", "grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status")
TERMINAL_TASK_STATES = ("complete", "failed", "rejected", "shutdown", "orphaned")
SWARM_HINT = (
    "run `docker swarm init --advertise-addr <address>` on this host, or point DOCKER_HOST"
    " at a manager"
)


@dataclass(frozen=True)
class Docker:
    """The docker CLI for one engine; ``DOCKER_HOST`` comes from the environment."""

    binary: str = "docker"
    timeout: float = 120.0

    def run(
        self, args: Sequence[str], *, timeout: float | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        limit = self.timeout if timeout is None else timeout
        done = run_child(
            [self.binary, *args],
            cwd=None,
            env=os.environ,
            bounds=Bounds(timeout=limit),
            hint="install the docker CLI",
            timed_out=lambda: EnvironmentProblem(
                f"`docker {' '.join(args[:2])}` did not finish within {limit:.0f}s",
                hint="check the engine, or raise the timeout",
            ),
        )
        if check and done.returncode != 0:
            raise StackError(f"`docker {' '.join(args[:2])}` failed: {first_line(done.stderr)}")
        return done

    def lines(self, args: Sequence[str]) -> list[str]:
        done = self.run(args, check=True)
        return [line for line in done.stdout.splitlines() if line.strip()]


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


# -- preflight ----------------------------------------------------------------------


def require_manager(docker: Docker) -> dict[str, Any]:
    """The Swarm state of this engine; fails unless it is an active manager."""
    done = docker.run(["info", "--format", "{{json .Swarm}}"], timeout=30)
    if done.returncode != 0:
        raise EnvironmentProblem(
            f"the Docker engine does not answer: {first_line(done.stderr)}",
            hint="start the engine or set DOCKER_HOST",
        )
    state: dict[str, Any] = json.loads(done.stdout or "{}")
    if state.get("LocalNodeState") != "active":
        raise EnvironmentProblem("this engine is not part of a Swarm", hint=SWARM_HINT)
    if not state.get("ControlAvailable"):
        raise EnvironmentProblem("this engine is a Swarm worker, not a manager", hint=SWARM_HINT)
    return state


def probe_nodes(
    docker: Docker,
    *,
    image: str = DEFAULT_PROBE_IMAGE,
    logging: Mapping[str, Any] | None = None,
    timeout: float = 90.0,
) -> list[NodeProbe]:
    """Run one short-lived task on every node (global mode) and read what its daemon gave it.

    ``docker info`` only sees the local daemon; a task on each node sees its own. The
    probe uses the stack's logging driver, so a node without the Loki plugin shows up
    as a task that could not start.
    """
    name = f"stackctl-probe-{random.token_hex(4)}"
    args = ["service", "create", "--detach", "--quiet", "--name", name, "--mode", "global"]
    args += ["--restart-condition", "none", "--label", f"{PROBE_LABEL}=1"]
    if logging and logging.get("driver"):
        args += ["--log-driver", str(logging["driver"])]
        for key, value in (logging.get("options") or {}).items():
            args += ["--log-opt", f"{key}={value}"]
    done = docker.run([*args, image, *PROBE_COMMAND])
    if done.returncode != 0:
        raise EnvironmentProblem(
            f"cannot start the node probe: {first_line(done.stderr)}",
            hint=f"the probe image {image} must be present or pullable on every node"
            " (--probe-image)",
        )
    try:
        return _collect_probe(docker, name, timeout)
    finally:
        docker.run(["service", "rm", name], timeout=60)


def _collect_probe(docker: Docker, name: str, timeout: float) -> list[NodeProbe]:
    nodes = docker.lines(["node", "ls", "--format", "{{.Hostname}}\t{{.Status}}"])
    ready = [line.split("\t")[0] for line in nodes if line.endswith("\tReady")]
    deadline = time.monotonic() + timeout
    rows: list[list[str]] = []
    while time.monotonic() < deadline:
        fmt = "{{.Node}}\t{{.CurrentState}}\t{{.Error}}"
        rows = [
            line.split("\t")
            for line in docker.lines(["service", "ps", name, "--no-trunc", "--format", fmt])
        ]
        finished = {r[0] for r in rows if r[1].split(" ")[0].lower() in TERMINAL_TASK_STATES}
        if ready and set(ready) <= finished:
            break
        time.sleep(1)
    probes: dict[str, NodeProbe] = {}
    for node, state, *rest in rows:
        word = state.split(" ")[0].lower()
        error = rest[0] if rest else ""
        if word == "complete":
            probes[node] = NodeProbe(node, True)
        elif word == "failed" and "exit (1)" in error:
            probes[node] = NodeProbe(node, False)
        elif node not in probes:
            probes[node] = NodeProbe(node, None, error or f"probe task {word}")
    for node in ready:
        probes.setdefault(node, NodeProbe(node, None, "the probe task did not finish in time"))
    return [probes[node] for node in sorted(probes)]


def missing_images(docker: Docker, images: Sequence[str]) -> list[str]:
    """Images not present on this (manager) node; Swarm pulls them on each node at deploy."""
    return [
        image
        for image in sorted(set(images))
        if docker.run(["image", "inspect", image], timeout=30).returncode != 0
    ]


# -- secrets ---------------------------------------------------------------------------


def content_version(path: Path) -> str:
    """A version for a secret file that changes with its content and reveals nothing of it.

    scrypt makes guessing a weak value from the name as costly as it is pointless:
    the version is only 12 hex digits of a salted, memory-hard hash.
    """
    data = path.read_bytes()
    digest = hashlib.scrypt(data, salt=b"stackctl-swarm:" + path.name.encode(), n=2**14, r=8, p=1)
    return digest.hex()[:12]


# -- deploy, converge, undeploy -----------------------------------------------------------


def deploy(docker: Docker, stack_file: Path, stack: str) -> str:
    """``docker stack deploy`` in detached mode; returns anything it warned about."""
    done = docker.run(
        ["stack", "deploy", "--detach=true", "-c", str(stack_file), stack], timeout=300
    )
    if done.returncode != 0:
        raise StackError(f"docker stack deploy failed: {first_line(done.stderr)}")
    ignored = [line for line in done.stderr.splitlines() if line.startswith("Ignoring")]
    return "; ".join(ignored)


@dataclass(frozen=True)
class TaskState:
    service: str
    node: str
    desired: str
    current: str
    error: str

    @property
    def word(self) -> str:
        return self.current.split(" ")[0].lower()


def tasks(docker: Docker, stack: str) -> list[TaskState]:
    fmt = "{{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}"
    rows = docker.lines(["stack", "ps", stack, "--no-trunc", "--format", fmt])
    found = []
    for row in rows:
        name, node, desired, current, *rest = [*row.split("\t"), ""][:5]
        service = re.sub(r"\.\d+$|\.[a-z0-9]{25}$", "", name.strip().lstrip("\\_ "))
        found.append(TaskState(service, node, desired, current, rest[0] if rest else ""))
    return found


@dataclass(frozen=True)
class Convergence:
    converged: bool
    pending: tuple[str, ...]
    failed: Mapping[str, tuple[str, ...]]  # service -> task errors


def convergence(
    docker: Docker, stack: str, services: Sequence[str], one_shot: Sequence[str] = ()
) -> Convergence:
    """Every long-running service has all its tasks running (healthy: Swarm only reports a
    task with a healthcheck as running once it passed); one-shot jobs completed."""
    states = tasks(docker, stack)
    pending: list[str] = []
    failed: dict[str, list[str]] = {}
    for service in services:
        full = f"{stack}_{service}"
        mine = [t for t in states if t.service == full]
        errors = [t.error for t in mine if t.error and t.desired.lower() == "shutdown"]
        errors += [f"task {t.word}" for t in mine if t.word in ("failed", "rejected")]
        if len(errors) >= 3 or (service in one_shot and any(t.word == "failed" for t in mine)):
            failed[service] = list(dict.fromkeys(errors))
        live = [t for t in mine if t.desired.lower() in ("running", "complete")]
        if service in one_shot:
            done = any(t.word == "complete" for t in mine)
        else:
            done = bool(live) and all(t.word == "running" for t in live)
        if not done:
            pending.append(service)
    return Convergence(
        not pending, tuple(pending), {k: tuple(v) for k, v in failed.items() if k in pending}
    )


def wait_converged(
    docker: Docker,
    stack: str,
    services: Sequence[str],
    *,
    one_shot: Sequence[str] = (),
    timeout: float = 300.0,
    progress: Callable[[str], None] = lambda _: None,
    interval: float = 2.0,
) -> Convergence:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        state = convergence(docker, stack, services, one_shot)
        line = f"{len(services) - len(state.pending)}/{len(services)} services converged" + (
            f"; waiting for {', '.join(state.pending)}" if state.pending else ""
        )
        if line != last:
            progress(line)
            last = line
        if state.converged or state.failed or time.monotonic() >= deadline:
            return state
        time.sleep(interval)


def service_log_tail(docker: Docker, stack: str, service: str, lines: int = 20) -> str:
    done = docker.run(
        ["service", "logs", "--no-trunc", "--tail", str(lines), f"{stack}_{service}"], timeout=60
    )
    return (done.stdout + done.stderr).rstrip()


@dataclass(frozen=True)
class Leftovers:
    services: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.services or self.networks or self.secrets or self.configs)

    def describe(self) -> str:
        parts = [
            f"{kind}: {', '.join(names)}"
            for kind, names in (
                ("services", self.services),
                ("networks", self.networks),
                ("secrets", self.secrets),
                ("configs", self.configs),
            )
            if names
        ]
        return "; ".join(parts)


def leftovers(docker: Docker, stack: str) -> Leftovers:
    label = f"label={NAMESPACE_LABEL}={stack}"

    def names(kind: str) -> tuple[str, ...]:
        return tuple(docker.lines([kind, "ls", "--filter", label, "--format", "{{.Name}}"]))

    return Leftovers(names("service"), names("network"), names("secret"), names("config"))


def undeploy(
    docker: Docker,
    stack: str,
    *,
    timeout: float = 120.0,
    progress: Callable[[str], None] = lambda _: None,
) -> Leftovers:
    """``docker stack rm``, then wait until nothing labelled with the stack remains."""
    if leftovers(docker, stack).empty:
        return Leftovers()
    done = docker.run(["stack", "rm", stack], timeout=timeout)
    if done.returncode != 0:
        raise StackError(f"docker stack rm failed: {first_line(done.stderr)}")
    deadline = time.monotonic() + timeout
    remaining = leftovers(docker, stack)
    while not remaining.empty and time.monotonic() < deadline:
        progress(f"waiting for {remaining.describe()}")
        time.sleep(1)
        remaining = leftovers(docker, stack)
    return remaining


def prune_old_secrets(docker: Docker, stack: str, current: Sequence[str]) -> list[str]:
    """Remove this stack's secret versions no service uses any more (after a rotation)."""
    label = f"label={NAMESPACE_LABEL}={stack}"
    names = docker.lines(["secret", "ls", "--filter", label, "--format", "{{.Name}}"])
    removed = []
    for name in names:
        if name not in current and docker.run(["secret", "rm", name], timeout=30).returncode == 0:
            removed.append(name)
    return removed


def task_containers(docker: Docker, stack: str) -> dict[str, list[str]]:
    """Running task containers of the stack on this node: service (without prefix) -> ids."""
    rows = docker.lines(
        [
            "ps",
            "--filter",
            f"label={NAMESPACE_LABEL}={stack}",
            "--format",
            '{{.ID}}\t{{.Label "com.docker.swarm.service.name"}}',
        ]
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        container, _, service = row.partition("\t")
        found.setdefault(service.removeprefix(f"{stack}_"), []).append(container)
    return found


# -- ps and logs for a stack ------------------------------------------------------------


def stack_rows(docker: Docker, stack: str) -> list[tuple[str, str, str, str, str]]:
    """service, node, desired state, current state, error: one row per task."""
    return [
        (t.service.removeprefix(f"{stack}_"), t.node, t.desired, t.current, t.error or "-")
        for t in tasks(docker, stack)
    ]


def stack_services(docker: Docker, stack: str) -> list[str]:
    label = f"label={NAMESPACE_LABEL}={stack}"
    names = docker.lines(["service", "ls", "--filter", label, "--format", "{{.Name}}"])
    return sorted(name.removeprefix(f"{stack}_") for name in names)


def stream_service_logs(
    docker: Docker,
    stack: str,
    service: str,
    *,
    tail: int,
    follow: bool,
    write: Callable[[str], None],
) -> int:
    """``docker service logs`` line by line through ``write`` (which masks secrets)."""
    args = [docker.binary, "service", "logs", "--no-trunc", "--tail", str(tail)]
    process = spawn_child(
        [*args, *(["--follow"] if follow else []), f"{stack}_{service}"],
        cwd=None,
        env=os.environ,
        bounds=Bounds(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        hint="install the docker CLI",
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            write(line)
        return process.wait()
    finally:
        if process.poll() is None:
            stop_child(process, signal.SIGTERM)
        CHILDREN.discard(process)
