"""Smoke: start a selection in a throwaway project, prove it, and leave nothing behind.

The run is isolated from any stack a developer has running: its own compose
project name (``smoke-<random>``), hence its own containers, network and
volumes, and its state directory in a temporary folder. After the selection is
healthy, ``verify`` compares every container with the model and each declared
port is probed by service name from inside the project network. Everything is
removed afterwards, whether the run passed, failed, timed out or was
interrupted (SIGINT/SIGTERM), unless ``--keep`` is given.

Exit codes: 0 passed, 1 failed, 2 usage or environment error, 3 not run
because images of the selection are not present locally (smoke never pulls
and never passes silently), 130 interrupted.
"""

from __future__ import annotations

import secrets as random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.conventions import PROJECT_LABEL, STATE_VARIABLE
from stackctl.errors import EnvironmentProblem, StackError
from stackctl.operating import docker_api, lifecycle, preflight
from stackctl.operating.secrets import scaffold
from stackctl.project.compose import Compose, Project
from stackctl.project.render import Model
from stackctl.project.secret_specs import specs_from_model
from stackctl.reporting import Case, say, short_list
from stackctl.runtime.report import verification_cases
from stackctl.runtime.verification import Verification, verify

NOT_RUN = 3
FIXTURE_IMAGE = "stackctl-test/busybox:1.0"
BUSYBOX = Path("/bin/busybox")
PROBE_TIMEOUT_SECONDS = 3


class NotRun(StackError):
    """The smoke test could not run here (images absent); never reported as a pass."""

    exit_code = NOT_RUN


@dataclass(frozen=True)
class Probe:
    service: str
    port: str
    ok: bool
    detail: str


@dataclass
class SmokeResult:
    project: str
    started: bool = False
    start_detail: str = ""
    verification: Verification | None = None
    probes: list[Probe] = field(default_factory=list)
    kept_at: Path | None = None

    @property
    def ok(self) -> bool:
        return (
            self.started
            and self.verification is not None
            and self.verification.ok
            and all(p.ok for p in self.probes)
        )

    def cases(self) -> list[Case]:
        """JUnit: the start, one case per container and runtime check, one per probe."""
        cases = [
            Case(
                "start", f"selection healthy ({self.project})", self.started, 0.0, self.start_detail
            )
        ]
        if self.verification is not None:
            cases += verification_cases(self.verification)
        cases += [
            Case("reachability", f"{p.service}:{p.port} by service name", p.ok, 0.0, p.detail)
            for p in self.probes
        ]
        return cases


def isolated(project: Project, name: str, state: Path) -> Compose:
    """Compose for ``project`` under a throwaway project name and state directory."""
    return Compose(
        project,
        extra_env={"COMPOSE_PROJECT_NAME": name, STATE_VARIABLE: str(state)},
    )


def ensure_fixture_image(client: Any, workdir: Path) -> str:
    """The fixture's busybox image: present, or built from Debian's static busybox."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(FIXTURE_IMAGE)
        return FIXTURE_IMAGE
    except ImageNotFound:
        pass
    if not BUSYBOX.is_file():
        raise NotRun(
            f"smoke not run: {FIXTURE_IMAGE} is not present and {BUSYBOX} is missing to build it",
            hint="apt-get install busybox-static, or docker load the image",
        )
    context = workdir / "image"
    context.mkdir()
    shutil.copy2(BUSYBOX, context / "busybox")
    (context / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        'RUN ["/bin/sh", "-c", "mkdir -p /www /tmp && echo ok > /www/index.html"]\n'
    )
    client.images.build(path=str(context), tag=FIXTURE_IMAGE, rm=True)
    return FIXTURE_IMAGE


def prepare_fixture(source: Path, workdir: Path, name: str, client: Any) -> Project:
    """A copy of a fixture tree with its own .env and freshly generated secrets."""
    target = workdir / "stack"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("secrets", ".env"))
    image = ensure_fixture_image(client, workdir)
    (target / ".env").write_text(
        f"COMPOSE_PROJECT_NAME={name}\nDEFAULT_MOUNT_VOLUME_PATH={workdir / 'state'}\n"
        f"LOG_DRIVER=local\nTEST_IMAGE={image}\n"
    )
    project = Project.at(target, ".env")
    from stackctl.project.render import render

    model = render(Compose(project), ["*"])
    scaffold(specs_from_model(model.data))
    return project


def require_isolation(model: Model, name: str) -> None:
    """Refuse a stack whose network names do not follow the project name (it would share them)."""
    for key, spec in (model.data.get("networks") or {}).items():
        fixed = str((spec or {}).get("name") or "")
        if fixed and name not in fixed:
            raise EnvironmentProblem(
                f"network {key} has the fixed name {fixed!r}; a smoke run would share it",
                hint="derive network names from ${COMPOSE_PROJECT_NAME}",
            )


def require_images(client: Any, model: Model) -> None:
    images = set(preflight.images_of(model).values())
    missing = docker_api.missing_images(client, images)
    if missing:
        raise NotRun(
            f"smoke not run: {len(missing)} of {len(images)} image(s) are not present locally: "
            f"{short_list(missing)}",
            hint="docker pull / docker load them first (smoke never pulls), or run "
            "`nox -s smoke` on the fixture stack",
        )


def ports_of(spec: dict[str, Any]) -> list[str]:
    """The container ports a service declares (``expose`` and ``ports`` targets)."""
    found = [str(p) for p in spec.get("expose") or [] if not str(p).endswith("/udp")]
    found = [p.removesuffix("/tcp") for p in found]
    for port in spec.get("ports") or []:
        if isinstance(port, dict) and port.get("target") and port.get("protocol", "tcp") == "tcp":
            found.append(str(port["target"]))
    return sorted(set(found), key=lambda p: (len(p), p))


def _exec(client: Any, container_id: str, argv: Sequence[str]) -> tuple[int, str]:
    from docker.errors import APIError

    try:
        exec_id = client.api.exec_create(container_id, list(argv))["Id"]
        output = client.api.exec_start(exec_id)
        code = client.api.exec_inspect(exec_id).get("ExitCode")
    except APIError as error:
        return 127, str(getattr(error, "explanation", None) or error)
    return int(code if code is not None else 127), bytes(output).decode("utf-8", "replace")


def _probe_command(client: Any, container_id: str) -> list[str] | None:
    """How this container can test a TCP port, or None when it has no ``nc``.

    ``nc -z`` where supported; busybox's small ``nc`` lacks ``-z``, and there a
    plain connect with stdin closed does the same, bounded by ``timeout``.
    """
    code, output = _exec(client, container_id, ["nc", "-z", "-w", "1", "127.0.0.1", "1"])
    if code in (126, 127) or "executable file not found" in output:
        return None
    if "invalid option" in output or "unrecognized option" in output:
        return ["timeout", str(PROBE_TIMEOUT_SECONDS + 2), "nc", "-w", str(PROBE_TIMEOUT_SECONDS)]
    return ["nc", "-z", "-w", str(PROBE_TIMEOUT_SECONDS)]


def probe_reachability(client: Any, model: Model, project: str) -> list[Probe]:
    """Connect to each declared port by service name from a container on the project network."""
    targets = [
        (name, port) for name, spec in sorted(model.services.items()) for port in ports_of(spec)
    ]
    if not targets:
        return []
    running = client.api.containers(filters={"label": f"{PROJECT_LABEL}={project}"})
    for prober in running:
        command = _probe_command(client, prober["Id"])
        if command is None:
            continue  # no nc in this image: try another container
        probes = []
        prober_name = str((prober.get("Names") or ["?"])[0]).lstrip("/")
        for service, port in targets:
            code, output = _exec(client, prober["Id"], [*command, service, port])
            lines = output.strip().splitlines()
            detail = "open" if code == 0 else (lines[0] if lines else f"exit {code}")
            probes.append(Probe(service, port, code == 0, f"from {prober_name}: {detail}"))
        return probes
    return [
        Probe(service, port, False, "no container of the project has `nc` to probe with")
        for service, port in targets
    ]


def teardown(client: Any, project: str, network_names: Sequence[str]) -> list[str]:
    """Remove every container, network and volume of the throwaway project; what stayed."""
    from docker.errors import APIError, NotFound

    label = {"label": f"{PROJECT_LABEL}={project}"}

    def sweep() -> tuple[bool, list[str]]:
        left: list[str] = []
        containers = client.api.containers(all=True, filters=label)
        networks = lifecycle.project_networks(client, project, network_names)
        volumes = (client.api.volumes(filters=label) or {}).get("Volumes") or []
        for container in containers:
            try:
                client.api.remove_container(container["Id"], force=True, v=True)
            except NotFound:
                continue
            except APIError:
                left.append(str((container.get("Names") or ["?"])[0]).lstrip("/"))
        for network in networks:
            try:
                client.api.remove_network(network["Id"])
            except NotFound:
                continue
            except APIError:
                left.append(f"network {network.get('Name')}")
        for volume in volumes:
            try:
                client.api.remove_volume(volume["Name"], force=True)
            except NotFound:
                continue
            except APIError:
                left.append(f"volume {volume['Name']}")
        return bool(containers or networks or volumes), left

    return lifecycle.until_quiet(sweep)


def run(
    project_dir: Path,
    profiles: Sequence[str],
    *,
    env_file: str | None = None,
    fixture: bool = False,
    keep: bool = False,
    wait_timeout: int = 180,
) -> SmokeResult:
    """Start, prove and tear down ``profiles`` of the stack at ``project_dir``."""
    client = docker_api.client()
    name = f"smoke-{random.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix=f"stackctl-{name}-"))
    result = SmokeResult(name)
    networks: list[str] = []
    try:
        if fixture:
            project = prepare_fixture(project_dir, workdir, name, client)
        else:
            project = Project.at(project_dir, env_file or ".env")
        compose = isolated(project, name, workdir / "state")
        selection = preflight.select(compose, profiles)
        require_isolation(selection.model, name)
        networks = lifecycle.declared_network_names(selection.model)
        require_images(client, selection.model)
        preflight.run_steps(compose, selection.profiles, preflight.UP_STEPS, stop_at_failure=True)
        say(f"smoke {name}: starting {','.join(selection.profiles)}")
        done = compose.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout)],
            selection.profiles,
            capture=False,
            timeout=wait_timeout + 600,
        )
        result.started = done.returncode == 0
        if not result.started:
            redact = lifecycle.redactor_for(selection.full)
            result.start_detail = lifecycle.failure_report(compose, selection, redact)
            return result
        result.verification = verify(compose, selection.model, client=client)
        result.probes = probe_reachability(client, selection.model, name)
        return result
    finally:
        if keep:
            result.kept_at = workdir
            say(
                f"--keep: project {name} left running (state and secrets in {workdir}); "
                f"remove it with: docker rm -f $(docker ps -aq --filter "
                f"label={PROJECT_LABEL}={name})"
            )
        else:
            _clean_up(client, name, networks, workdir)


def _clean_up(client: Any, name: str, networks: Sequence[str], workdir: Path) -> None:
    with lifecycle.signals_held():
        left = teardown(client, name, networks or [f"{name}-net"])
        shutil.rmtree(workdir, ignore_errors=True)
    if left:
        say(f"smoke {name}: teardown could not remove {short_list(left)}")
    else:
        say(f"smoke {name}: torn down (containers, network, volumes, state)")
