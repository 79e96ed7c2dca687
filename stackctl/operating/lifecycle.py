"""Operations: up, down, ps and logs for a profile selection.

``up`` behaves like a careful operator: the preflight (``stackctl.operating.preflight``)
runs first and stops at the first problem; then compose starts the selection
and waits for it to be healthy. When it is not, the failing services and their
redacted log tails are shown and nothing is rolled back unless asked.
``up`` and ``down`` return what they found (``UpResult``, ``DownResult``), their
failure included, for the command's report; progress goes to stderr.
Profiles arrive parsed (``stackctl.commands``); nothing here parses user input.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from checks.conventions import PROJECT_LABEL, SERVICE_LABEL, STATE_VARIABLE
from stackctl.errors import (
    FINDINGS,
    OK,
    ComposeAborted,
    Interrupted,
    StackError,
    UsageError,
)
from stackctl.operating import docker_api, preflight
from stackctl.operating.preflight import ChosenSelection
from stackctl.operating.redact import Redactor
from stackctl.operating.steps import StepResult
from stackctl.project.compose import Compose
from stackctl.project.containers import containers
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import Model, render, render_ahead, require_known_profiles
from stackctl.project.secret_specs import specs_from_model
from stackctl.project.selections import selection_model
from stackctl.reporting import say, short_list, table

# The runtime comparison loads the rule catalogue: ``up`` imports it while compose works
# (``Preflight.start_ahead``), every other operation never.
if TYPE_CHECKING:
    from stackctl.runtime.verification import Verification

LOG_TAIL = 20


# -- up / down / ps / logs --------------------------------------------------------


def redactor_for(model: Model) -> Redactor:
    return Redactor.from_files(spec.path for spec in specs_from_model(model.data))


Row = tuple[str, str, str, str]
UNHEALTHY_HEADERS = ("service", "state", "health", "exit code")


def unhealthy_rows(compose: Compose, selection: ChosenSelection) -> list[Row]:
    """The selection's containers that are neither healthy, running nor a finished job."""
    rows = []
    for container in containers(compose, selection.profiles):
        service = container.get("Service", "?")
        if service not in selection.model.services:
            continue  # another profile's container of the same project: not this run's concern
        state, health = container.get("State", ""), container.get("Health", "")
        if state == "running" and health in ("", "healthy"):
            continue
        if state == "exited" and str(container.get("ExitCode")) == "0":
            continue  # a one-shot job that finished
        rows.append((service, state, health or "-", str(container.get("ExitCode", ""))))
    return rows


def failure_report(
    compose: Compose,
    selection: ChosenSelection,
    redact: Redactor,
    rows: Sequence[Row] | None = None,
) -> str:
    """The selection's unhealthy containers with their redacted log tails (nothing else)."""
    rows = unhealthy_rows(compose, selection) if rows is None else rows
    tails = []
    for service, *_ in rows:
        logs = compose.run(
            ["logs", "--no-color", "--tail", str(LOG_TAIL), service], selection.profiles
        )
        tail = redact(logs.stdout + logs.stderr).rstrip() or "(no output)"
        tails.append(f"--- last {LOG_TAIL} log lines of {service} ---\n{tail}")
    listing = table(rows, UNHEALTHY_HEADERS) if rows else ""
    return "\n\n".join(part for part in [listing, *tails] if part)


# -- what one run started, for rollback on interrupt ---------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The project's containers and networks (ids) at one moment, from the docker_api."""

    containers: frozenset[str]
    networks: frozenset[str]


def _project_filter(project: str) -> dict[str, str]:
    return {"label": f"{PROJECT_LABEL}={project}"}


def project_networks(client: Any, project: str, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The project's networks: compose-labelled ones and the declared ``name:``s."""
    found = {n["Id"]: n for n in client.api.networks(filters=_project_filter(project))}
    for name in names:
        for network in client.api.networks(names=[name]):
            if network.get("Name") == name:
                found[network["Id"]] = network
    return list(found.values())


def declared_network_names(model: Model) -> list[str]:
    return [
        str(spec["name"])
        for spec in (model.data.get("networks") or {}).values()
        if spec and spec.get("name")
    ]


def snapshot(client: Any, model: Model) -> Snapshot:
    project = str(model.data.get("name", ""))
    ids = {c["Id"] for c in client.api.containers(all=True, filters=_project_filter(project))}
    networks = project_networks(client, project, declared_network_names(model))
    return Snapshot(frozenset(ids), frozenset(n["Id"] for n in networks))


def _name(summary: Mapping[str, Any]) -> str:
    return str((summary.get("Names") or ["?"])[0]).lstrip("/")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM while cleaning up, so a second Ctrl-C cannot cut a rollback short."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def started_since(
    client: Any, model: Model, before: Snapshot
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Containers and networks of the project that did not exist at ``before``."""
    project = str(model.data.get("name", ""))
    now = client.api.containers(all=True, filters=_project_filter(project))
    networks = project_networks(client, project, declared_network_names(model))
    return (
        [c for c in now if c["Id"] not in before.containers],
        [n for n in networks if n["Id"] not in before.networks],
    )


# An engine finishes a create request even when the compose that sent it is gone,
# so a container can appear just after a removal sweep: sweeps repeat until the
# project has been quiet twice in a row (bounded).
SWEEPS = 20
SWEEP_PAUSE = 0.5


def until_quiet(sweep: Callable[[], tuple[bool, list[str]]]) -> list[str]:
    """Run ``sweep`` (found anything?, what it could not remove) until two quiet sweeps.

    Returns what the last sweep that found something could not remove.
    """
    left: list[str] = []
    quiet = 0
    for _ in range(SWEEPS):
        found, stayed = sweep()
        if found:
            quiet, left = 0, stayed
        else:
            quiet += 1
            if quiet == 2:
                break
        time.sleep(SWEEP_PAUSE)
    return left


def settled_start(client: Any, model: Model, before: Snapshot) -> list[str]:
    """What this run started, once the engine has stopped adding to it (see ``until_quiet``):
    the same list twice in a row, so a create that lands after compose died is named too."""
    previous: list[str] | None = None
    for _ in range(SWEEPS):
        containers_new, networks_new = started_since(client, model, before)
        current = [_name(c) for c in containers_new] + [
            f"network {n.get('Name')}" for n in networks_new
        ]
        if current == previous:
            break
        previous = current
        time.sleep(SWEEP_PAUSE)
    return previous or []


def roll_back(client: Any, model: Model, before: Snapshot) -> tuple[list[str], list[str]]:
    """Remove what was created since ``before`` (force: this run's own, half-started work).

    Returns what could not be removed. Uses the engine directly: it must work
    while compose children are being stopped after a signal.
    """
    from docker.errors import APIError, NotFound

    networks_left: list[str] = []

    def sweep() -> tuple[bool, list[str]]:
        left: list[str] = []
        networks_left.clear()
        containers_new, networks_new = started_since(client, model, before)
        for summary in containers_new:
            try:
                client.api.remove_container(summary["Id"], force=True, v=False)
            except NotFound:
                continue
            except APIError:
                left.append(_name(summary))
        for network in networks_new:
            try:
                client.api.remove_network(network["Id"])
            except NotFound:
                continue
            except APIError:
                networks_left.append(str(network.get("Name")))
        return bool(containers_new or networks_new), left

    left = until_quiet(sweep)
    return left, list(networks_left)


def _interrupted(
    client: Any, selection: ChosenSelection, before: Snapshot, keep_on_interrupt: bool
) -> None:
    """Like compose's attached mode on Ctrl-C: stop what this run started, and name it.

    With ``keep_on_interrupt`` it is left running, and named all the same.
    """
    with signals_held():
        started = settled_start(client, selection.model, before)
        if not started:
            say("interrupted before anything was started")
            return
        if keep_on_interrupt:
            say(
                f"interrupted: this run started {short_list(started, limit=8)}; "
                "left as is (--keep-on-interrupt; invoke down removes them)"
            )
            return
        left, networks_left = roll_back(client, selection.model, before)
        if left or networks_left:
            say(
                f"interrupted: this run started {short_list(started, limit=8)};"
                " rollback could not remove "
                + short_list([*left, *(f"network {n}" for n in networks_left)])
            )
        else:
            say(
                f"interrupted: rolled back what this run started: {short_list(started, limit=8)}"
                " (volumes and state kept)"
            )


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did; ``problem`` says why the selection is not up as declared (None: it is)."""

    requested: tuple[str, ...]
    profiles: tuple[str, ...] = ()  # the selection with the profiles it needs
    preflight: tuple[StepResult, ...] = ()  # the steps that ran, the failing one last
    started: bool = False
    verification: Verification | None = None
    unhealthy: tuple[Row, ...] = ()
    problem: StackError | None = None

    @property
    def exit_code(self) -> int:
        return OK if self.problem is None else self.problem.exit_code


def up(
    compose: Compose,
    requested: Sequence[str],
    *,
    wait_timeout: int = 180,
    down_on_failure: bool = False,
    keep_on_interrupt: bool = False,
) -> UpResult:
    """Preflight, start and compare ``requested`` (given: every selection must be asked for)."""
    state = preflight.Preflight(compose, tuple(requested))
    state.start_ahead()
    try:
        require_known_profiles(compose, requested)  # before the engine: a typo needs none
        preflight.run_on(state, preflight.UP_STEPS, stop_at_failure=True)
    except StackError as error:
        # Nothing has started: the first problem is the answer, with the steps that ran.
        return UpResult(tuple(requested), preflight=tuple(state.results), problem=error)
    selection, client = state.chosen, state.client
    ran = UpResult(tuple(requested), selection.profiles, tuple(state.results), started=True)
    profiles = ",".join(selection.profiles)
    before = snapshot(client, selection.model)
    say(f"starting {profiles} (waiting up to {wait_timeout}s for health)")
    try:
        done = compose.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout), "--remove-orphans"],
            selection.profiles,
            capture=False,
            timeout=wait_timeout + 600,
        )
        # The same comparison as `verify`: healthy is not enough, it must be what was declared.
        result = None
        if done.returncode == 0:
            from stackctl.runtime.verification import verify

            hashes = state.hashes.result() if state.hashes is not None else None
            result = verify(compose, selection.model, client=client, hashes=hashes)
    except (KeyboardInterrupt, Interrupted, ComposeAborted):
        _interrupted(client, selection, before, keep_on_interrupt)
        raise
    if result is not None:
        from stackctl.runtime.comparison import RUNTIME_CHECKS
        from stackctl.runtime.report import verification_table

        if result.ok:
            checked = f"{len(result.containers)} containers x {len(RUNTIME_CHECKS)} checks"
            say(f"all services of {profiles} are healthy and match the model ({checked})")
            return replace(ran, verification=result)
        say(verification_table(result))
        problem = StackError(f"{profiles} is up but differs from the model")
        return replace(ran, verification=result, problem=problem)
    rows = unhealthy_rows(compose, selection)
    say(failure_report(compose, selection, redactor_for(selection.full), rows))
    if down_on_failure:
        say("--down-on-failure: removing what this run started (volumes and state kept)")
        with signals_held():
            left, networks_left = roll_back(client, selection.model, before)
        if left or networks_left:
            say("could not remove " + short_list([*left, *(f"network {n}" for n in networks_left)]))
    else:
        say("nothing was rolled back: inspect with `invoke ps` / `invoke logs`, then `invoke down`")
    problem = StackError(f"{profiles} did not become healthy")
    return replace(ran, unhealthy=tuple(rows), problem=problem)


@dataclass(frozen=True)
class DownResult:
    """What ``down`` removed; ``left`` names what is still there (then ``problem`` says so)."""

    profiles: tuple[str, ...]
    volumes: bool  # named volumes were deleted too (--volumes)
    left: tuple[str, ...] = ()
    compose_failed: bool = False
    problem: StackError | None = None

    @property
    def exit_code(self) -> int:
        if self.problem is not None:
            return self.problem.exit_code
        return FINDINGS if self.compose_failed else OK


def down(compose: Compose, requested: Sequence[str], *, volumes: bool = False) -> DownResult:
    """Stop and remove containers. Named volumes and host state survive unless asked.

    Anything of the selection still there afterwards (a container, or a network
    another container still uses) is named in the result's problem (exit 1).
    """
    profiles = tuple(requested) or (ALL_PROFILES,)
    # One render, started first so the docker SDK loads while compose works: the
    # selection's model is derived from it (as up's is), not rendered a second time.
    render_ahead(compose, (ALL_PROFILES,))
    client = docker_api.client()
    full = render(compose, [ALL_PROFILES])
    model = full if profiles == (ALL_PROFILES,) else selection_model(full, profiles)
    args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    done = compose.run(args, profiles, capture=False)
    left = leftovers(client, model, everything=profiles == (ALL_PROFILES,))
    if left:
        problem = StackError(
            f"down left {short_list(left, limit=8)} behind",
            hint="remove what holds them (docker rm -f / docker network disconnect),"
            " then invoke down again",
        )
        return DownResult(profiles, volumes, tuple(left), done.returncode != 0, problem)
    if done.returncode != 0:
        return DownResult(profiles, volumes, compose_failed=True)  # compose said why itself
    kept = "named volumes deleted" if volumes else "named volumes kept"
    say(f"down: {','.join(profiles)} stopped; {kept}; host state under {STATE_VARIABLE} untouched")
    return DownResult(profiles, volumes)


def leftovers(client: Any, model: Model, *, everything: bool) -> list[str]:
    """What ``down`` should have removed but is still there."""
    project = str(model.data.get("name", ""))
    remaining = client.api.containers(all=True, filters=_project_filter(project))
    left = [
        _name(c)
        for c in remaining
        if everything or (c.get("Labels") or {}).get(SERVICE_LABEL) in model.services
    ]
    project_ids = {c["Id"] for c in remaining}
    for network in project_networks(client, project, declared_network_names(model)):
        members = set((client.api.inspect_network(network["Id"]).get("Containers") or {}).keys())
        if members & project_ids and not everything:
            continue  # still used by the project's other profiles: kept on purpose
        holders = ""
        if members:
            holders = (
                " (in use by "
                + short_list(
                    [
                        str(client.api.inspect_container(m).get("Name", m)).lstrip("/")
                        for m in members
                    ]
                )
                + ")"
            )
        left.append(f"network {network.get('Name')}{holders}")
    return left


def ps_rows(compose: Compose) -> list[tuple[str, str, str, str, str]]:
    """One row per container of the project: service, profile, state, health, ports."""
    docker_api.client()
    full = render(compose, [ALL_PROFILES])
    rows = []
    for container in containers(compose, [ALL_PROFILES]):
        service = container.get("Service", "?")
        profiles = ",".join(full.services.get(service, {}).get("profiles") or ["-"])
        ports = ", ".join(
            f"{p.get('URL')}:{p.get('PublishedPort')}->{p.get('TargetPort')}"
            for p in container.get("Publishers") or []
            if p.get("PublishedPort")
        )
        rows.append(
            (
                service,
                profiles,
                container.get("State", ""),
                container.get("Health", "") or "-",
                ports or "-",
            )
        )
    return sorted(rows, key=lambda r: (r[1], r[0]))


def stream_logs(
    compose: Compose,
    service: str | None,
    *,
    follow: bool = False,
    tail: int = 100,
    write: Callable[[str], None] = lambda line: print(line, end="", flush=True),
) -> int:
    """Compose logs with every secret value masked, line by line as they arrive."""
    docker_api.client()
    full = render(compose, [ALL_PROFILES])
    if service and service not in full.services:
        raise UsageError(
            f"unknown service {service!r}", hint=f"known: {', '.join(sorted(full.services))}"
        )
    redact = redactor_for(full)
    args = ["logs", "--no-color", "--tail", str(tail)] + (["--follow"] if follow else [])
    with compose.stream([*args, *([service] if service else [])], [ALL_PROFILES]) as process:
        assert process.stdout is not None
        for line in process.stdout:
            write(redact(line))
        return process.wait()
