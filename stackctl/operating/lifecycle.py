"""Operations: up, down, ps and logs for a profile selection.

``up`` behaves like a careful operator: the preflight (``stackctl.operating.preflight``)
runs first and stops at the first problem; then compose starts the selection
and waits for it to be healthy. When it is not, the failing services and their
redacted log tails are shown and nothing is rolled back unless asked.
Profiles arrive parsed and checked (``stackctl.commands``); nothing here parses
user input.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.conventions import PROJECT_LABEL, SERVICE_LABEL, STATE_VARIABLE
from stackctl.errors import ComposeAborted, Interrupted, UsageError
from stackctl.operating import docker_api, preflight
from stackctl.operating.preflight import Selection
from stackctl.operating.redact import Redactor
from stackctl.project.compose import Compose
from stackctl.project.containers import containers
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import Model, render
from stackctl.project.secret_specs import specs_from_model
from stackctl.reporting import say, short_list, table
from stackctl.runtime.comparison import RUNTIME_CHECKS
from stackctl.runtime.report import verification_table
from stackctl.runtime.verification import verify

LOG_TAIL = 20


# -- up / down / ps / logs --------------------------------------------------------


def redactor_for(model: Model) -> Redactor:
    return Redactor.from_files(spec.path for spec in specs_from_model(model.data))


def failure_report(compose: Compose, selection: Selection, redact: Redactor) -> str:
    """The selection's unhealthy containers with their redacted log tails (nothing else)."""
    rows, tails = [], []
    for container in containers(compose, selection.profiles):
        service = container.get("Service", "?")
        if service not in selection.model.services:
            continue  # another profile's container of the same project: not this run's concern
        state, health = container.get("State", ""), container.get("Health", "")
        if state == "running" and health in ("", "healthy"):
            continue
        if state == "exited" and str(container.get("ExitCode")) == "0":
            continue  # a one-shot job that finished
        rows.append((service, state, health or "-", container.get("ExitCode", "")))
        logs = compose.run(
            ["logs", "--no-color", "--tail", str(LOG_TAIL), service], selection.profiles
        )
        tail = redact(logs.stdout + logs.stderr).rstrip() or "(no output)"
        tails.append(f"--- last {LOG_TAIL} log lines of {service} ---\n{tail}")
    listing = table(rows, ["service", "state", "health", "exit code"]) if rows else ""
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


def roll_back(client: Any, model: Model, before: Snapshot) -> tuple[list[str], list[str]]:
    """Remove what was created since ``before`` (force: this run's own, half-started work).

    Returns what could not be removed. Uses the engine directly: it must work
    while compose children are being stopped after a signal.
    """
    from docker.errors import APIError, NotFound

    left: list[str] = []
    containers_new, networks_new = started_since(client, model, before)
    for summary in containers_new:
        try:
            client.api.remove_container(summary["Id"], force=True, v=False)
        except NotFound:
            continue
        except APIError:
            left.append(_name(summary))
    networks_left: list[str] = []
    for network in networks_new:
        try:
            client.api.remove_network(network["Id"])
        except NotFound:
            continue
        except APIError:
            networks_left.append(str(network.get("Name")))
    return left, networks_left


def _interrupted(
    client: Any, selection: Selection, before: Snapshot, down_on_failure: bool
) -> None:
    with signals_held():
        if down_on_failure:
            left, networks_left = roll_back(client, selection.model, before)
            if left or networks_left:
                say(
                    "interrupted: rollback could not remove "
                    + short_list([*left, *(f"network {n}" for n in networks_left)])
                )
            else:
                say("interrupted: rolled back what this run started (volumes and state kept)")
            return
        containers_new, networks_new = started_since(client, selection.model, before)
        started = [_name(c) for c in containers_new] + [
            f"network {n.get('Name')}" for n in networks_new
        ]
        if started:
            say(
                f"interrupted: this run started {short_list(started, limit=8)}; "
                "left as is (invoke down removes them, --down-on-failure rolls back)"
            )
        else:
            say("interrupted before anything was started")


def up(
    compose: Compose,
    requested: Sequence[str],
    *,
    wait_timeout: int = 180,
    down_on_failure: bool = False,
) -> int:
    if not requested:
        # Starting all seven profiles by accident is costly; everything must be asked for.
        raise UsageError(
            "say which profiles to start", hint="--profiles core,data (or --profiles '*')"
        )
    state = preflight.run_steps(compose, requested, preflight.UP_STEPS, stop_at_failure=True)
    selection, client = state.chosen, state.client
    before = snapshot(client, selection.model)
    say(f"starting {','.join(selection.profiles)} (waiting up to {wait_timeout}s for health)")
    try:
        done = compose.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout), "--remove-orphans"],
            selection.profiles,
            capture=False,
            timeout=wait_timeout + 600,
        )
        # The same comparison as `verify`: healthy is not enough, it must be what was declared.
        result = verify(compose, selection.model, client=client) if done.returncode == 0 else None
    except (KeyboardInterrupt, Interrupted, ComposeAborted):
        _interrupted(client, selection, before, down_on_failure)
        raise
    if result is not None:
        if result.ok:
            checked = f"{len(result.containers)} containers x {len(RUNTIME_CHECKS)} checks"
            say(
                f"all services of {','.join(selection.profiles)} are healthy"
                f" and match the model ({checked})"
            )
            return 0
        print(
            f"error: {','.join(selection.profiles)} is up but differs from the model",
            file=sys.stderr,
        )
        print(verification_table(result), file=sys.stderr)
        return 1
    redact = redactor_for(selection.full)
    print(f"error: {','.join(selection.profiles)} did not become healthy", file=sys.stderr)
    print(failure_report(compose, selection, redact), file=sys.stderr)
    if down_on_failure:
        say("--down-on-failure: removing what this run started (volumes and state kept)")
        with signals_held():
            left, networks_left = roll_back(client, selection.model, before)
        if left or networks_left:
            say("could not remove " + short_list([*left, *(f"network {n}" for n in networks_left)]))
    else:
        say("nothing was rolled back: inspect with `invoke ps` / `invoke logs`, then `invoke down`")
    return 1


def down(
    compose: Compose, requested: Sequence[str], *, volumes: bool = False, confirm: bool = False
) -> int:
    """Stop and remove containers. Named volumes and host state survive unless confirmed.

    Exit 1 when anything of the selection is still there afterwards (a container,
    or a network another container still uses), named in one line.
    """
    client = docker_api.client()
    profiles = tuple(requested) or (ALL_PROFILES,)
    if volumes and not confirm:
        raise UsageError(
            "--volumes deletes the named volumes of the selection",
            hint="repeat with --volumes --yes-delete-volumes to confirm",
        )
    model = render(compose, profiles)
    args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    done = compose.run(args, profiles, capture=False)
    left = leftovers(client, model, everything=profiles == (ALL_PROFILES,))
    if left:
        print(f"error: down left {short_list(left, limit=8)} behind", file=sys.stderr)
        say(
            "  hint: remove what holds them (docker rm -f / docker network disconnect),"
            " then invoke down again"
        )
        return 1
    if done.returncode != 0:
        return 1
    kept = "named volumes deleted" if volumes else "named volumes kept"
    say(f"down: {','.join(profiles)} stopped; {kept}; host state under {STATE_VARIABLE} untouched")
    return 0


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
