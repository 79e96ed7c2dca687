"""Operations: up, down, ps and logs for a profile selection.

``up`` behaves like a careful operator: the preflight (``stackctl.preflight``)
runs first and stops at the first problem; then compose starts the selection
and waits for it to be healthy. When it is not, the failing services and their
redacted log tails are shown and nothing is rolled back unless asked.
Profiles arrive parsed and checked (``stackctl.commands``); nothing here parses
user input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from stackctl import engine, preflight
from stackctl.compose import Compose, first_error_line
from stackctl.errors import StackError, UsageError
from stackctl.model import Model, render
from stackctl.preflight import STATE_VARIABLE, Selection
from stackctl.profiles import ALL_PROFILES
from stackctl.redact import Redactor
from stackctl.reporting import say, table
from stackctl.secrets import specs_from_model

LOG_TAIL = 20


# -- up / down / ps / logs --------------------------------------------------------


def parse_ps(stdout: str) -> list[dict[str, Any]]:
    """`compose ps --format json` prints an array (old) or one object per line (new)."""
    text = stdout.strip()
    if not text:
        return []
    if text.startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def containers(compose: Compose, profiles: Sequence[str]) -> list[dict[str, Any]]:
    done = compose.run(["ps", "--all", "--format", "json"], profiles)
    if done.returncode != 0:
        raise StackError(f"compose ps failed: {first_error_line(done.stderr)}")
    return parse_ps(done.stdout)


def redactor_for(model: Model) -> Redactor:
    return Redactor.from_files(spec.path for spec in specs_from_model(model.data))


def failure_report(compose: Compose, selection: Selection, redact: Redactor) -> str:
    rows, tails = [], []
    for container in containers(compose, selection.profiles):
        state, health = container.get("State", ""), container.get("Health", "")
        if state == "running" and health in ("", "healthy"):
            continue
        if state == "exited" and str(container.get("ExitCode")) == "0":
            continue  # a one-shot job that finished
        service = container.get("Service", "?")
        rows.append((service, state, health or "-", container.get("ExitCode", "")))
        logs = compose.run(
            ["logs", "--no-color", "--tail", str(LOG_TAIL), service], selection.profiles
        )
        tail = redact(logs.stdout + logs.stderr).rstrip() or "(no output)"
        tails.append(f"--- last {LOG_TAIL} log lines of {service} ---\n{tail}")
    listing = table(rows, ["service", "state", "health", "exit code"]) if rows else ""
    return "\n\n".join(part for part in [listing, *tails] if part)


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
    selection = preflight.run_steps(
        compose, requested, preflight.UP_STEPS, stop_at_failure=True
    ).chosen
    say(f"starting {','.join(selection.profiles)} (waiting up to {wait_timeout}s for health)")
    done = compose.run(
        ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout), "--remove-orphans"],
        selection.profiles,
        capture=False,
        timeout=wait_timeout + 600,
    )
    if done.returncode == 0:
        say(f"all services of {','.join(selection.profiles)} are healthy")
        return 0
    redact = redactor_for(selection.full)
    print(f"error: {','.join(selection.profiles)} did not become healthy", file=sys.stderr)
    print(failure_report(compose, selection, redact), file=sys.stderr)
    if down_on_failure:
        say("--down-on-failure: removing the selection's containers (volumes and state kept)")
        compose.run(["down", "--remove-orphans"], selection.profiles, capture=False)
    else:
        say("nothing was rolled back: inspect with `invoke ps` / `invoke logs`, then `invoke down`")
    return 1


def down(
    compose: Compose, requested: Sequence[str], *, volumes: bool = False, confirm: bool = False
) -> int:
    """Stop and remove containers. Named volumes and host state survive unless confirmed."""
    engine.client()
    profiles = tuple(requested) or (ALL_PROFILES,)
    if volumes and not confirm:
        raise UsageError(
            "--volumes deletes the named volumes of the selection",
            hint="repeat with --volumes --yes-delete-volumes to confirm",
        )
    args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    done = compose.run(args, profiles, capture=False)
    if done.returncode != 0:
        return 1
    kept = "named volumes deleted" if volumes else "named volumes kept"
    say(f"down: {','.join(profiles)} stopped; {kept}; host state under {STATE_VARIABLE} untouched")
    return 0


def ps_rows(compose: Compose) -> list[tuple[str, str, str, str, str]]:
    """One row per container of the project: service, profile, state, health, ports."""
    engine.client()
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
    engine.client()
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
