"""Preflight: ordered steps that catch what would make ``up`` fail, before anything starts.

Each step takes the shared ``Preflight`` state and returns a ``StepResult``.
``up`` runs ``UP_STEPS`` and stops at the first failure; ``loki.preflight``
runs ``LOKI_STEPS`` (a subset plus the reachability probe) with the same
runner and reports every result. A failing step is an environment problem
(exit 2) in both.
"""

from __future__ import annotations

import errno
import importlib
import os
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from checks.conventions import PROJECT_LABEL, STATE_OWNER_LABEL, STATE_VARIABLE
from stackctl.errors import EnvironmentProblem, RenderError
from stackctl.operating import docker_api
from stackctl.operating.secrets import scaffold as scaffold_secrets
from stackctl.operating.steps import StepResult
from stackctl.project.compose import Compose, first_error_line
from stackctl.project.containers import containers
from stackctl.project.profiles import ALL_PROFILES, with_dependencies
from stackctl.project.render import Model, render, render_ahead
from stackctl.project.secret_specs import parse_owner, specs_from_model
from stackctl.project.selections import selection_model
from stackctl.reporting import say, short_list

ResultT = TypeVar("ResultT")

# What the steps after the first and the post-start verify import: heavy (the docker SDK,
# the rule catalogue), so they are imported on a thread while compose renders.
LATER_IMPORTS = ("docker", "stackctl.operating.loki", "stackctl.runtime.verification")


def in_background(function: Callable[..., ResultT], *args: Any) -> Future[ResultT]:
    """Start ``function(*args)`` on a daemon thread now; ``result()`` waits, raising its error."""
    future: Future[ResultT] = Future()

    def work() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(function(*args))
            except BaseException as error:  # the caller of result() sees it, as if it ran there
                future.set_exception(error)

    threading.Thread(target=work, name=getattr(function, "__name__", "ahead"), daemon=True).start()
    return future


def import_ahead(*modules: str) -> Future[None]:
    """Import ``modules`` on a thread, so they load while compose works on the other core."""

    def load() -> None:
        for name in modules:
            importlib.import_module(name)

    return in_background(load)


@dataclass
class ChosenSelection:
    """What `up` or `deploy` will start: the profiles asked for, plus the ones they need."""

    requested: tuple[str, ...]
    profiles: tuple[str, ...]
    added: tuple[str, ...]
    model: Model
    full: Model


def select(compose: Compose, requested: Sequence[str]) -> ChosenSelection:
    """Add the profiles a selection needs (default: every profile).

    ``requested`` comes from a command's options, already checked against the
    known profiles when they were built.
    """
    wanted = tuple(requested) or (ALL_PROFILES,)
    full = render(compose, [ALL_PROFILES])
    profiles, added = with_dependencies(wanted, full.services)
    # Derived from the full render (cross-checked against compose by every check run).
    model = full if profiles == (ALL_PROFILES,) else selection_model(full, profiles)
    return ChosenSelection(tuple(wanted), profiles, added, model, full)


def state_root(compose: Compose) -> str:
    """``DEFAULT_MOUNT_VOLUME_PATH`` exactly as compose resolves it (``config --environment``)."""
    done = compose.run(["config", "--environment"])
    if done.returncode != 0:
        raise RenderError(first_error_line(done.stderr) or "docker compose config failed")
    for line in done.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep and name == STATE_VARIABLE:
            return value
    return ""


@dataclass
class Preflight:
    """What the steps share: the project, the request, and what earlier steps found."""

    compose: Compose
    requested: tuple[str, ...]
    client: Any = None
    selection: ChosenSelection | None = None
    results: list[StepResult] = field(default_factory=list)
    # Compose calls started by ``start_ahead``, each awaited where its answer is needed.
    root: Future[str] | None = None
    hashes: Future[dict[str, str]] | None = None

    def start_ahead(self) -> None:
        """Start every compose call up needs that depends only on the files, and the imports.

        On two cores, compose's renders and Python's imports then overlap instead of
        taking turns; each answer (or error) arrives where it did when called in order.
        """
        render_ahead(self.compose, (ALL_PROFILES,))
        self.root = in_background(state_root, self.compose)
        self.hashes = in_background(_service_hashes, self.compose)
        import_ahead(*LATER_IMPORTS)

    @property
    def chosen(self) -> ChosenSelection:
        if self.selection is None:
            self.selection = select(self.compose, self.requested)
        return self.selection


Step = Callable[[Preflight], StepResult]


def engine_step(state: Preflight) -> StepResult:
    state.client = docker_api.client()
    version = state.client.version().get("Version", "?")
    return StepResult(
        "engine", True, f"Docker {version}; compose {state.compose.binary.version_text}"
    )


def profiles_step(state: Preflight) -> StepResult:
    selection = state.chosen
    if selection.added:
        say(
            f"notice: adding profile(s) {', '.join(selection.added)}: "
            f"{', '.join(selection.requested)} depend(s) on them"
        )
    return StepResult("profiles", True, ",".join(selection.profiles))


def secrets_step(state: Preflight) -> StepResult:
    statuses = scaffold_secrets(specs_from_model(state.chosen.model.data), check=True)
    bad = [s for s in statuses if not s.ok]
    if bad:
        listed = short_list([f"{s.spec.name} ({s.status})" for s in bad])
        return StepResult(
            "secrets",
            False,
            f"{len(bad)} secret file(s) not ready: {listed}",
            "invoke secrets.scaffold  (creates missing files 0600 in a 0700 directory;"
            " --fix tightens loose ones)",
        )
    return StepResult("secrets", True, f"{len(statuses)} secret file(s) present, 0600 in 0700")


def ensure_state_dirs(model: Model, root_text: str, *, euid: int | None = None) -> int:
    """Create the bind-mounted state directories under the state root; return how many.

    Every such directory, new or existing, must belong to the uid its service runs
    as (``org.platform.state-owner``). Run as root, an empty directory is chowned to
    it; a directory that already holds data, or any wrong owner when not run as
    root, stops ``up`` with the exact ``chown`` to run. ``euid`` stands in for the
    caller's effective uid (default: the real one).
    """
    root = Path(root_text)
    caller = os.geteuid() if euid is None else euid
    created = 0
    wrong: list[tuple[str, str]] = []  # (what is wrong, the command that fixes it)
    for name, spec in sorted(model.services.items()):
        owner = parse_owner((spec.get("labels") or {}).get(STATE_OWNER_LABEL))
        for volume in spec.get("volumes") or []:
            if volume.get("type") != "bind" or volume.get("read_only"):
                continue
            source = Path(str(volume.get("source")))
            if root not in source.parents:
                continue
            try:
                if not source.exists():
                    source.mkdir(parents=True, mode=0o750)
                    created += 1
                if owner is None:
                    continue
                have = source.stat().st_uid
                if have == owner[0]:
                    continue
                empty = not any(source.iterdir())
                if caller == 0 and empty:
                    os.chown(source, *owner)
                    continue
            except OSError as error:
                raise EnvironmentProblem(
                    f"cannot prepare state directory {source}: {error.strerror}",
                    f"create {root} yourself or point {STATE_VARIABLE} somewhere writable",
                ) from None
            command = "chown" if caller == 0 else "sudo chown"
            recursive = "" if empty else " -R"
            wrong.append(
                (
                    f"{source} belongs to uid {have}, {name} runs as {owner[0]}",
                    f"{command}{recursive} {owner[0]}:{owner[1]} {source}",
                )
            )
    if wrong:
        raise EnvironmentProblem(
            f"{len(wrong)} state director{'y is' if len(wrong) == 1 else 'ies are'} not owned "
            f"by the uid that runs the service: {'; '.join(w for w, _ in wrong)}",
            " && ".join(c for _, c in wrong),
        )
    return created


def _service_hashes(compose: Compose) -> dict[str, str]:
    from stackctl.runtime.verification import service_hashes

    return service_hashes(compose)


def state_step(state: Preflight) -> StepResult:
    root = state.root.result() if state.root is not None else state_root(state.compose)
    if not root:
        return StepResult(
            "state", False, f"{STATE_VARIABLE} is not set", f"set {STATE_VARIABLE} in .env"
        )
    created = ensure_state_dirs(state.chosen.model, root)
    return StepResult("state", True, f"{root} ({created} directories created)")


def loki_plugin_step(state: Preflight) -> StepResult:
    from stackctl.operating import loki

    users = loki.loki_services(state.chosen.model.data)
    return loki.plugin_check(state.client, users)


def loki_options_step(state: Preflight) -> StepResult:
    from stackctl.operating import loki

    return loki.options_check(state.chosen.model.data)


def loki_reachable_step(state: Preflight) -> StepResult:
    from stackctl.operating import loki

    running = any(
        c.get("Service") == "loki" and c.get("State") == "running"
        for c in containers(state.compose, state.chosen.profiles)
    )
    url = loki.loki_url(state.chosen.model.data)
    return loki.reachability_check(url, running)


def images_of(model: Model) -> dict[str, str]:
    return {
        name: str(spec["image"])
        for name, spec in model.services.items()
        if spec.get("image") and not spec.get("build")
    }


def images_step(state: Preflight) -> StepResult:
    selection = state.chosen
    images = images_of(selection.model)
    missing = docker_api.missing_images(state.client, set(images.values()))
    if not missing:
        return StepResult("images", True, f"{len(set(images.values()))} image(s) present locally")
    services = sorted(name for name, image in images.items() if image in missing)
    say(f"  ..    {'images':<14} pulling {len(missing)} missing image(s)")
    done = state.compose.run(["pull", "--quiet", *services], selection.profiles, timeout=1800)
    still = docker_api.missing_images(state.client, set(missing)) or (
        missing if done.returncode else []
    )
    if still:
        return StepResult(
            "images",
            False,
            f"cannot pull {len(still)} image(s): {short_list(still)}",
            "check registry access, or load the images with `docker load` first",
        )
    return StepResult("images", True, f"pulled {len(missing)} image(s)")


def _port_numbers(published: Any) -> list[int]:
    """``8080`` or ``"8080-8082"`` -> the host ports; anything else -> none."""
    first, _, last = str(published).partition("-")
    if not first.isdecimal() or (last and not last.isdecimal()):
        return []
    return list(range(int(first), int(last or first) + 1))


def _bindable(host_ip: str, port: int, protocol: str) -> bool:
    """Whether this host could bind ``host_ip:port`` now (only "in use" counts as no)."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "taken"
        try:
            probe.bind((host_ip, port))
        except OSError as error:
            return error.errno != errno.EADDRINUSE
    return True


def ports_step(state: Preflight) -> StepResult:
    """Published host ports are free, or already held by this project's own containers."""
    if not os.environ.get("DOCKER_HOST", "unix://").startswith("unix://"):
        return StepResult("ports", True, "remote engine: host ports not checked from here")
    project = str(state.chosen.model.data.get("name", ""))
    own = {
        (int(p["PublicPort"]), str(p.get("Type", "tcp")))
        for c in state.client.api.containers(filters={"label": f"{PROJECT_LABEL}={project}"})
        for p in c.get("Ports") or []
        if p.get("PublicPort")
    }
    wanted = taken = 0
    listed: list[str] = []
    for name, spec in sorted(state.chosen.model.services.items()):
        for port in spec.get("ports") or []:
            if not isinstance(port, dict):
                continue
            host_ip = str(port.get("host_ip") or "0.0.0.0")
            protocol = str(port.get("protocol") or "tcp")
            for number in _port_numbers(port.get("published")):
                wanted += 1
                if (number, protocol) in own or _bindable(host_ip, number, protocol):
                    continue
                taken += 1
                listed.append(f"{host_ip}:{number}/{protocol} ({name})")
    if taken:
        return StepResult(
            "ports",
            False,
            f"{taken} published host port(s) already taken: {short_list(listed)}",
            "stop what holds them (ss -ltnp shows it) or publish on another port",
        )
    return StepResult("ports", True, f"{wanted} published host port(s) free")


UP_STEPS: tuple[Step, ...] = (
    engine_step,
    profiles_step,
    secrets_step,
    state_step,
    ports_step,
    loki_plugin_step,
    loki_options_step,
    images_step,
)
LOKI_STEPS: tuple[Step, ...] = (
    engine_step,
    profiles_step,
    loki_plugin_step,
    loki_options_step,
    loki_reachable_step,
)


def run_steps(
    compose: Compose,
    requested: Sequence[str],
    steps: Sequence[Step],
    *,
    stop_at_failure: bool,
) -> Preflight:
    """Run ``steps`` in order, printing each; the first failure raises when ``stop_at_failure``."""
    state = Preflight(compose, tuple(requested))
    run_on(state, steps, stop_at_failure=stop_at_failure)
    return state


def run_on(state: Preflight, steps: Sequence[Step], *, stop_at_failure: bool) -> None:
    """``run_steps`` on a state the caller holds, so the steps that ran outlive a failure."""
    say("preflight")
    for step in steps:
        result = step(state)
        state.results.append(result)
        say(f"  {'ok' if result.ok else 'FAIL':<5} {result.name:<14} {result.detail}")
        if not result.ok and stop_at_failure:
            raise EnvironmentProblem(result.detail, result.hint or None)


def first_failure(results: Sequence[StepResult]) -> EnvironmentProblem | None:
    for result in results:
        if not result.ok:
            return EnvironmentProblem(result.detail, result.hint or None)
    return None
