"""Swarm: the translator, the gap table, and deploys on real single-node swarms.

The engine tests start throwaway engines (scripts/swarm-test-engine.sh), each
with its own socket, data root and Swarm on a loopback address: one with the
daemon-wide no-new-privileges default, one without. The host's main engine is
never put into Swarm mode.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets as random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from checks.limits import parse_size
from cli import run_invoke
from conftest import OPS_FIXTURE, REPO
from stackctl.errors import StackError
from stackctl.operating.secrets import scaffold
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render
from stackctl.project.secret_specs import specs_from_model
from stackctl.swarm import cluster, deploy, gaps
from stackctl.swarm.translate import restart_policy, tmpfs_mount, translate

HARDENED = {
    "image": "example/app:1.0",
    "init": True,
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "restart": "unless-stopped",
    "tmpfs": ["/tmp:size=64m,mode=1777"],
    "deploy": {"resources": {"limits": {"cpus": 0.5, "memory": "268435456", "pids": 64}}},
    "depends_on": {"db": {"condition": "service_healthy", "required": True}},
    "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080, "published": "8080"}],
    "secrets": [{"source": "token", "target": "/run/secrets/token"}],
    "volumes": [{"type": "bind", "source": "/srv/state/app", "target": "/data", "bind": {}}],
    "networks": {"platform": None},
    "profiles": ["core"],
    "shm_size": "256m",
}


def model(**service_overrides: object) -> dict:
    return {
        "name": "demo",
        "services": {"app": {**HARDENED, **service_overrides}, "db": {"image": "example/db:1"}},
        "networks": {"platform": {"name": "demo-net", "ipam": {}}},
        "secrets": {"token": {"name": "demo_token", "file": "/repo/secrets/token"}},
    }


# -- the translator (pure) ------------------------------------------------------------


def test_types_compose_renders_are_made_strings_for_the_swarm_loader() -> None:
    limits = translate(model()).stack["services"]["app"]["deploy"]["resources"]["limits"]
    assert limits == {"cpus": "0.5", "memory": "268435456", "pids": 64}


def test_depends_on_and_security_opt_are_dropped_with_a_note_each() -> None:
    result = translate(model())
    app = result.stack["services"]["app"]
    assert "depends_on" not in app and "security_opt" not in app
    assert "db" in result.notes_for("depends_on")[0].message
    assert "daemon's default" in result.notes_for("security_opt")[0].message


def test_tmpfs_key_becomes_a_tmpfs_mount_with_its_size() -> None:
    app = translate(model()).stack["services"]["app"]
    assert "tmpfs" not in app
    assert {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 64 * 1024**2}} in app["volumes"]
    assert tmpfs_mount("/run") == {"type": "tmpfs", "target": "/run"}
    assert parse_size("1g") == 1024**3 and parse_size("12") == 12 and parse_size("x") is None


def test_secrets_are_versioned_namespaced_and_owned_per_reader() -> None:
    result = translate(
        model(),
        stack="demo",
        secret_versions={"token": "abc123"},
        secret_owners={"token": (70, 70)},
    )
    assert result.stack["secrets"] == {
        "token": {"name": "demo_token_abc123", "file": "/repo/secrets/token"}
    }
    assert result.secret_names == {"token": "demo_token_abc123"}
    ref = result.stack["services"]["app"]["secrets"][0]
    assert ref == {"source": "token", "target": "token", "mode": 0o400, "uid": "70", "gid": "70"}


def test_loopback_only_ports_are_not_published_on_every_interface() -> None:
    result = translate(model())
    assert "ports" not in result.stack["services"]["app"]
    assert "127.0.0.1" in result.notes_for("ports")[0].message
    public = [{"mode": "ingress", "host_ip": "", "target": 80, "published": "8081"}]
    ports = translate(model(ports=public)).stack["services"]["app"]["ports"]
    assert ports == [{"target": 80, "published": 8081, "protocol": "tcp", "mode": "ingress"}]


def test_restart_and_rollout_defaults() -> None:
    deploy_ = translate(model()).stack["services"]["app"]["deploy"]
    assert deploy_["restart_policy"] == {"condition": "any"}
    assert deploy_["update_config"]["order"] == "stop-first"  # it has state
    assert deploy_["update_config"]["failure_action"] == "rollback"
    stateless = translate(model(volumes=[])).stack["services"]["app"]["deploy"]
    assert stateless["update_config"]["order"] == "start-first"
    assert restart_policy("no") == {"condition": "none"}
    assert restart_policy("on-failure:3") == {"condition": "on-failure", "max_attempts": 3}


def test_unsupported_keys_are_named_never_silently_dropped() -> None:
    result = translate(model())
    assert [n.key for n in result.notes_for("shm_size")] == ["shm_size"]
    assert not result.notes_for("profiles")  # meaningless once the selection is rendered
    assert result.stack["networks"] == {"platform": {"driver": "overlay"}}


@pytest.fixture(scope="module")
def fixture_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the ops fixture stack with its .env, secrets and state directory."""
    project = tmp_path_factory.mktemp("swarm") / "ops"
    shutil.copytree(OPS_FIXTURE, project, ignore=shutil.ignore_patterns("secrets"))
    (project / ".env").write_text(
        "COMPOSE_PROJECT_NAME=swarmfixture\nDEFAULT_MOUNT_VOLUME_PATH="
        f"{project}/state\nLOG_DRIVER=local\nTEST_IMAGE=stackctl-test/busybox:1.0\n"
    )
    rendered = render(Compose(Project.at(project, ".env")), ["*"]).data
    scaffold(specs_from_model(rendered))
    (project / "state" / "store").mkdir(parents=True)
    return project


@pytest.fixture(scope="module")
def fixture_model(fixture_project: Path) -> dict:
    """The fixture's core,data selection, rendered by the real compose binary."""
    return render(Compose(Project.at(fixture_project, ".env")), ["core", "data"]).data


@pytest.mark.slow
def test_compose_render_is_refused_by_the_swarm_loader_and_the_translation_is_accepted(
    fixture_model: dict, tmp_path: Path
) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is needed for `docker stack config`")
    raw = tmp_path / "raw.yml"
    raw.write_text(yaml.safe_dump({"version": "3.9", **fixture_model} | {"name": None}))
    refused = subprocess.run(
        [docker, "stack", "config", "-c", str(raw)], capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "must be a string" in refused.stderr or "Additional property" in refused.stderr
    translated = tmp_path / "stack.yml"
    stack = translate(fixture_model, stack="t", secret_versions={"web_token": "v1"}).stack
    translated.write_text(yaml.safe_dump(stack))
    accepted = subprocess.run(
        [docker, "stack", "config", "-c", str(translated)], capture_output=True, text=True
    )
    assert accepted.returncode == 0, accepted.stderr


# -- the gap table (pure) ----------------------------------------------------------------


def probe(*flags: bool | None) -> list[gaps.NodeProbe]:
    return [gaps.NodeProbe(f"node{i}", flag) for i, flag in enumerate(flags)]


def row(rows: list[gaps.Gap], control: str) -> gaps.Gap:
    return next(g for g in rows if g.control == control)


def test_no_new_privileges_is_compensated_only_when_every_node_has_the_default() -> None:
    assert row(gaps.assess(model(), probe(True, True)), "no-new-privileges").status is (
        gaps.Enforcement.COMPENSATED
    )
    lost = row(gaps.assess(model(), probe(True, False)), "no-new-privileges")
    assert lost.status is gaps.Enforcement.LOST and lost.blocking
    assert "node1" in lost.detail and "node0" not in lost.detail
    assert gaps.blocking(gaps.assess(model(), [])), "no probe at all is never a pass"


def test_enforced_controls_and_non_security_losses_do_not_block() -> None:
    rows = gaps.assess(model(), probe(True))
    for control in ("cap_drop: [ALL]", "init", "read-only root", "memory limit", "pids limit"):
        assert row(rows, control).status is gaps.Enforcement.ENFORCED, control
    startup = row(rows, "depends_on start order")
    assert startup.status is gaps.Enforcement.LOST and not startup.blocking
    assert gaps.blocking(rows) == []


def test_a_service_without_the_option_needs_no_compensation() -> None:
    rows = gaps.assess(model(security_opt=[]), probe(False))
    assert row(rows, "no-new-privileges").status is gaps.Enforcement.NOT_USED
    assert gaps.blocking(rows) == []


# -- real single-node swarms ---------------------------------------------------------------

SCRIPT = REPO / "scripts" / "swarm-test-engine.sh"


def start_swarm_engine(name: str, address: str, *flags: str) -> str:
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("a throwaway engine needs root and dockerd")
    env = {**os.environ, "SWARM_TEST_IMAGES": "stackctl-test/busybox:1.0"}
    done = subprocess.run(
        [str(SCRIPT), "start", name, address, *flags], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        pytest.skip(f"could not start a swarm test engine: {done.stderr.strip()[-300:]}")
    return f"unix://{done.stdout.strip()}"


@pytest.fixture(scope="module")
def hardened_swarm(test_image: str):
    """A single-node swarm whose daemon sets no-new-privileges by default."""
    name = f"nnp{random.token_hex(3)}"
    host = start_swarm_engine(name, "127.0.0.3", "--no-new-privileges")
    yield host
    subprocess.run([str(SCRIPT), "stop", name], check=False)


@pytest.fixture(scope="module")
def plain_swarm(test_image: str):
    """A single-node swarm on a daemon without the default: the refusal path."""
    name = f"plain{random.token_hex(3)}"
    host = start_swarm_engine(name, "127.0.0.4")
    yield host
    subprocess.run([str(SCRIPT), "stop", name], check=False)


@pytest.fixture
def on_engine(monkeypatch: pytest.MonkeyPatch):
    def use(host: str) -> cluster.Docker:
        monkeypatch.setenv("DOCKER_HOST", host)
        return cluster.Docker(timeout=60)

    return use


def no_new_privs_of_tasks(docker: cluster.Docker, stack: str) -> dict[str, str]:
    """NoNewPrivs of PID 1 in each running task, read from /proc inside the task."""
    found = {}
    for service, containers in cluster.task_containers(docker, stack).items():
        for container in containers:
            done = docker.run(["exec", container, "cat", "/proc/1/status"], check=True)
            match = re.search(r"^NoNewPrivs:\s*(\d)", done.stdout, re.MULTILINE)
            found[service] = match.group(1) if match else "?"
    return found


def count_stack_objects(docker: cluster.Docker, stack: str) -> int:
    left = cluster.leftovers(docker, stack)
    return len(left.services) + len(left.networks) + len(left.secrets) + len(left.configs)


@pytest.mark.engine
def test_deploy_converges_healthy_with_the_daemon_default_and_undeploy_leaves_nothing(
    hardened_swarm: str, on_engine, fixture_model: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    docker = on_engine(hardened_swarm)
    stack = f"ok{random.token_hex(3)}"
    plan = deploy.plan(fixture_model, stack)
    lines: list[str] = []
    try:
        code = deploy.deploy(
            docker,
            plan,
            probe_image="stackctl-test/busybox:1.0",
            timeout=120,
            progress=lines.append,
        )
        assert code == 0, "\n".join(lines)
        table = capsys.readouterr().out
        assert re.search(r"no-new-privileges\s+compensating control", table)
        assert any("services converged" in line for line in lines)
        assert no_new_privs_of_tasks(docker, stack) == {"web": "1", "store": "1"}
        inspect = json.loads(
            docker.run(
                ["inspect", *itertools.chain(*cluster.task_containers(docker, stack).values())]
            ).stdout
        )
        for container in inspect:
            host = container["HostConfig"]
            assert host["CapDrop"] == ["ALL"] and host["Init"] and host["ReadonlyRootfs"]
            assert host["Memory"] == 32 * 1024**2 and host["PidsLimit"] == 32
            assert container["State"]["Health"]["Status"] == "healthy"
        secret_values = [spec.path.read_text() for spec in plan.secrets]
        assert not any(value in "\n".join(lines) for value in secret_values)
    finally:
        assert deploy.undeploy(docker, stack, progress=lines.append) == 0
    assert count_stack_objects(docker, stack) == 0


@pytest.mark.engine
def test_rotating_a_secret_rolls_a_new_version_and_prunes_the_old(
    hardened_swarm: str, on_engine, fixture_model: dict
) -> None:
    docker = on_engine(hardened_swarm)
    stack = f"rot{random.token_hex(3)}"
    quiet: list[str] = []
    try:
        first = deploy.plan(fixture_model, stack)
        assert (
            deploy.deploy(
                docker,
                first,
                probe_image="stackctl-test/busybox:1.0",
                timeout=120,
                progress=quiet.append,
            )
            == 0
        )
        spec = next(s for s in first.secrets if s.name == "web_token")
        original = spec.path.read_text()
        spec.path.write_text(original + "rotated")
        second = deploy.plan(fixture_model, stack)
        assert (
            second.translation.secret_names["web_token"]
            != first.translation.secret_names["web_token"]
        )
        assert (
            deploy.deploy(
                docker,
                second,
                probe_image="stackctl-test/busybox:1.0",
                timeout=120,
                progress=quiet.append,
            )
            == 0
        )
        names = cluster.leftovers(docker, stack).secrets
        assert second.translation.secret_names["web_token"] in names
        assert first.translation.secret_names["web_token"] not in names
    finally:
        spec.path.write_text(original)
        deploy.undeploy(docker, stack, progress=quiet.append)
    assert count_stack_objects(docker, stack) == 0


@pytest.mark.engine
def test_without_the_daemon_default_deploy_refuses_naming_the_gap(
    plain_swarm: str, on_engine, fixture_model: dict
) -> None:
    docker = on_engine(plain_swarm)
    stack = f"no{random.token_hex(3)}"
    with pytest.raises(StackError) as refused:
        deploy.deploy(
            docker,
            deploy.plan(fixture_model, stack),
            probe_image="stackctl-test/busybox:1.0",
            progress=lambda _: None,
        )
    assert "SEC-SPC-OPT-001 no-new-privileges" in refused.value.message
    assert "--accept-swarm-gaps" in (refused.value.hint or "")
    assert count_stack_objects(docker, stack) == 0, "a refusal deploys nothing"


@pytest.mark.engine
def test_accepting_the_gap_deploys_and_the_runtime_check_shows_it(
    plain_swarm: str, on_engine, fixture_model: dict, fixture_project: Path
) -> None:
    docker = on_engine(plain_swarm)
    stack = f"acc{random.token_hex(3)}"
    quiet: list[str] = []
    try:
        code = deploy.deploy(
            docker,
            deploy.plan(fixture_model, stack),
            accept_gaps=True,
            probe_image="stackctl-test/busybox:1.0",
            timeout=120,
            progress=quiet.append,
        )
        assert code == 0, "\n".join(quiet)
        assert any("accepted gap: SEC-SPC-OPT-001 no-new-privileges" in q for q in quiet)
        assert no_new_privs_of_tasks(docker, stack) == {"web": "0", "store": "0"}
        verified = run_invoke(
            fixture_project,
            "verify",
            "--stack",
            stack,
            "--profiles",
            "core,data",
            "--format",
            "json",
        )
        assert verified.returncode == 1, verified.stderr
        lost = {
            (f["rule"], f["requirement"], f["service"])
            for f in json.loads(verified.stdout)["findings"]
            if not f["suppressed"]
        }
        assert lost == {("RUN-004", "SEC-SPC-OPT-001", s) for s in ("web", "store")}
    finally:
        deploy.undeploy(docker, stack, progress=quiet.append)
    assert count_stack_objects(docker, stack) == 0


@pytest.mark.engine
def test_deploy_outside_a_swarm_is_an_environment_error(
    on_engine, fixture_model: dict, docker_engine
) -> None:
    docker = on_engine(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    if (
        json.loads(docker.run(["info", "--format", "{{json .Swarm}}"]).stdout)["LocalNodeState"]
        == "active"
    ):
        pytest.skip("the main engine is in a swarm")
    from stackctl.errors import EnvironmentProblem

    with pytest.raises(EnvironmentProblem, match="not part of a Swarm"):
        deploy.deploy(docker, deploy.plan(fixture_model, "x"), progress=lambda _: None)
    for command in ("ps", "logs"):
        done = run_invoke(REPO, command, "--stack", "nosuch")
        assert done.returncode == 2 and "not part of a Swarm" in done.stderr, done.stderr


@pytest.mark.engine
def test_invoke_deploy_and_undeploy_end_to_end(
    hardened_swarm: str, on_engine, fixture_project: Path
) -> None:
    docker = on_engine(hardened_swarm)
    stack = f"cli{random.token_hex(3)}"
    image = ["--probe-image", "stackctl-test/busybox:1.0"]
    try:
        done = run_invoke(fixture_project, "deploy", "--profiles", "data", "--stack", stack, *image)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert "adding profile" not in done.stderr  # data needs nothing else
        assert re.search(r"no-new-privileges\s+compensating control", done.stdout)
        assert "services converged" in done.stderr
        assert set(cluster.task_containers(docker, stack)) == {"store"}
        verified = run_invoke(fixture_project, "verify", "--stack", stack, "--profiles", "data")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        listed = run_invoke(fixture_project, "ps", "--stack", stack)
        assert listed.returncode == 0 and re.search(r"^store\s+\S+\s+Running", listed.stdout, re.M)
        logs = run_invoke(fixture_project, "logs", "--stack", stack, "--service", "store")
        assert logs.returncode == 0, logs.stderr
        secrets = [p.read_text().strip() for p in (fixture_project / "secrets").iterdir()]
        assert not any(value in logs.stdout + logs.stderr for value in secrets)
    finally:
        gone = run_invoke(fixture_project, "undeploy", "--stack", stack)
    assert gone.returncode == 0, gone.stderr
    assert count_stack_objects(docker, stack) == 0


@pytest.mark.engine
def test_invoke_deploy_refusal_is_one_line_and_exit_2(
    plain_swarm: str, on_engine, fixture_project: Path
) -> None:
    docker = on_engine(plain_swarm)
    stack = f"ref{random.token_hex(3)}"
    done = run_invoke(
        fixture_project,
        "deploy",
        "--profiles",
        "core",
        "--stack",
        stack,
        "--probe-image",
        "stackctl-test/busybox:1.0",
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to deploy" in done.stderr and "--accept-swarm-gaps" in done.stderr
    assert "Traceback" not in done.stderr
    assert count_stack_objects(docker, stack) == 0


@pytest.mark.slow
def test_deploy_usage_errors_are_exit_2_before_touching_docker(fixture_project: Path) -> None:
    no_profiles = run_invoke(fixture_project, "deploy")
    assert no_profiles.returncode == 2 and "say which profiles" in no_profiles.stderr
    bad_name = run_invoke(fixture_project, "deploy", "--profiles", "core", "--stack", "Bad Name")
    assert bad_name.returncode == 2 and "not a valid stack name" in bad_name.stderr
