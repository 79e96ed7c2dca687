"""Operations: preflight, up, down, ps and logs for a profile selection.

``up`` behaves like a careful operator: every check that would make the start
fail runs first (engine, compose, profiles, secrets, state directories, the
logging driver, images); then compose starts the selection and waits for it to
be healthy. When it is not, the failing services and their redacted log tails
are shown and nothing is rolled back unless asked.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks.stack import parse_env_file
from stackctl import engine, loki, report
from stackctl.compose import Compose, Project
from stackctl.errors import EnvironmentProblem, StackError, UsageError
from stackctl.model import Model, render, require_known_profiles
from stackctl.profiles import ALL_PROFILES, parse_profiles, with_dependencies
from stackctl.redact import Redactor
from stackctl.secrets import parse_owner, specs_from_model
from stackctl.secrets import scaffold as scaffold_secrets

STATE_VARIABLE = "DEFAULT_MOUNT_VOLUME_PATH"
STATE_OWNER_LABEL = "org.platform.state-owner"
LOG_TAIL = 20


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ops_project(project_dir: str | Path = ".", env_file: str | None = None) -> Project:
    """Operations use ``.env`` when present, else ``.env.example`` (with a notice)."""
    root = Path(project_dir)
    if env_file is None:
        if (root / ".env").is_file():
            env_file = ".env"
        else:
            env_file = ".env.example"
            say("notice: no .env found; using .env.example (copy it to .env to customise)")
    return Project.at(root, env_file)


def state_root(project: Project) -> str:
    """``DEFAULT_MOUNT_VOLUME_PATH`` as compose sees it: the process environment wins."""
    if STATE_VARIABLE in os.environ:
        return os.environ[STATE_VARIABLE]
    values = parse_env_file(project.env_file.read_text()) if project.env_file else {}
    return values.get(STATE_VARIABLE, "")


@dataclass
class Selection:
    requested: tuple[str, ...]
    profiles: tuple[str, ...]
    added: tuple[str, ...]
    model: Model
    full: Model


def select(compose: Compose, requested: Sequence[str]) -> Selection:
    """Resolve ``--profiles`` (default: every profile) and add the profiles they need."""
    wanted = parse_profiles(requested) or (ALL_PROFILES,)
    require_known_profiles(compose, wanted)
    full = render(compose, [ALL_PROFILES])
    profiles, added = with_dependencies(wanted, full.services)
    model = full if profiles == (ALL_PROFILES,) else render(compose, profiles)
    return Selection(tuple(wanted), profiles, added, model, full)


# -- preflight ------------------------------------------------------------------


def passed(name: str, detail: str) -> None:
    say(f"  ok    {name:<10} {detail}")


def fail(detail: str, hint: str) -> None:
    raise EnvironmentProblem(detail, hint)


def check_secrets(model: Model) -> str:
    specs = specs_from_model(model.data)
    statuses = scaffold_secrets(specs, check=True)
    bad = [s for s in statuses if not s.ok]
    if bad:
        listed = report.short_list([f"{s.spec.name} ({s.status})" for s in bad])
        fail(
            f"{len(bad)} secret file(s) not ready: {listed}",
            "invoke secrets.scaffold  (creates missing files 0600 in a 0700 directory;"
            " --fix tightens loose ones)",
        )
    return f"{len(statuses)} secret file(s) present, 0600 in 0700"


def ensure_state_dirs(model: Model, state_root: str) -> int:
    """Create the bind-mounted state directories under the state root; return how many."""
    if not state_root:
        fail(f"{STATE_VARIABLE} is not set", f"set {STATE_VARIABLE} in .env (see .env.example)")
    root = Path(state_root)
    created = 0
    for spec in model.services.values():
        owner = parse_owner((spec.get("labels") or {}).get(STATE_OWNER_LABEL))
        for volume in spec.get("volumes") or []:
            if volume.get("type") != "bind" or volume.get("read_only"):
                continue
            source = Path(str(volume.get("source")))
            if root not in source.parents or source.exists():
                continue
            try:
                source.mkdir(parents=True, mode=0o750)
                if owner is not None and os.geteuid() == 0:
                    os.chown(source, *owner)
            except OSError as error:
                fail(
                    f"cannot create state directory {source}: {error.strerror}",
                    f"create {root} yourself or point {STATE_VARIABLE} somewhere writable",
                )
            created += 1
    return created


def images_of(model: Model) -> dict[str, str]:
    return {
        name: str(spec["image"])
        for name, spec in model.services.items()
        if spec.get("image") and not spec.get("build")
    }


def ensure_images(compose: Compose, client: Any, selection: Selection) -> str:
    images = images_of(selection.model)
    missing = engine.missing_images(client, set(images.values()))
    if not missing:
        return f"{len(set(images.values()))} image(s) present locally"
    services = sorted(name for name, image in images.items() if image in missing)
    say(f"  ..    {'images':<10} pulling {len(missing)} missing image(s)")
    done = compose.run(["pull", "--quiet", *services], selection.profiles, timeout=1800)
    still = engine.missing_images(client, set(missing)) or (missing if done.returncode else [])
    if still:
        fail(
            f"cannot pull {len(still)} image(s): {report.short_list(still)}",
            "check registry access, or load the images with `docker load` first",
        )
    return f"pulled {len(missing)} image(s)"


def preflight(compose: Compose, requested: Sequence[str]) -> Selection:
    """Every check that would make ``up`` fail, in order; the first failure stops."""
    say("preflight")
    client = engine.client()
    version = client.version().get("Version", "?")
    passed("engine", f"Docker {version}; compose {compose.binary.version_text}")
    selection = select(compose, requested)
    if selection.added:
        say(
            f"notice: adding profile(s) {', '.join(selection.added)}: "
            f"{', '.join(selection.requested)} depend(s) on them"
        )
    passed("profiles", ",".join(selection.profiles))
    passed("secrets", check_secrets(selection.model))
    root = state_root(compose.project)
    created = ensure_state_dirs(selection.model, root)
    passed("state", f"{root} ({created} directories created)")
    users = loki.loki_services(selection.model.data)
    for result in (loki.plugin_check(client, users), loki.options_check(selection.model.data)):
        if not result.ok:
            fail(result.detail, result.hint)
    passed("logging", "loki driver ready" if users else "no service uses the loki driver")
    passed("images", ensure_images(compose, client, selection))
    return selection


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
        raise StackError(f"compose ps failed: {done.stderr.strip().splitlines()[0]}")
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
    table = report.table(rows, ["service", "state", "health", "exit code"]) if rows else ""
    return "\n\n".join(part for part in [table, *tails] if part)


def up(
    compose: Compose,
    requested: Sequence[str],
    *,
    wait_timeout: int = 180,
    down_on_failure: bool = False,
) -> int:
    if not parse_profiles(requested):
        # Starting all seven profiles by accident is costly; everything must be asked for.
        raise UsageError(
            "say which profiles to start", hint="--profiles core,data (or --profiles '*')"
        )
    selection = preflight(compose, requested)
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
    profiles = parse_profiles(requested) or (ALL_PROFILES,)
    require_known_profiles(compose, profiles)
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
        try:
            for line in process.stdout:
                write(redact(line))
        except KeyboardInterrupt:
            process.terminate()
        return process.wait()
