"""invoke up/down/ps/logs, secrets and the Loki preflight against a real engine.

The fixture stack (tests/fixtures/opsstack) follows the platform's conventions;
its image is built locally. The engine here really lacks the Loki plugin.
"""

from __future__ import annotations

import secrets as random
from pathlib import Path

import pytest

from cli import run_invoke
from conftest import OPS_FIXTURE

pytestmark = pytest.mark.engine


def project_containers(engine, name: str) -> list:
    # ignore_removed: a container removed between listing and inspecting is simply gone.
    return engine.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={name}"}, ignore_removed=True
    )


def project_networks(engine, name: str) -> list:
    return engine.networks.list(filters={"label": f"com.docker.compose.project={name}"})


@pytest.fixture
def ops_project(tmp_path: Path, docker_engine, test_image: str, copy_tree):
    """A copy of the fixture stack with its own project name, state dir and .env."""
    project = copy_tree(OPS_FIXTURE, "ops")
    name = f"stk{random.token_hex(4)}"
    state = tmp_path / "state"

    def write_env(log_driver: str = "local") -> None:
        (project / ".env").write_text(
            f"COMPOSE_PROJECT_NAME={name}\nDEFAULT_MOUNT_VOLUME_PATH={state}\n"
            f"LOG_DRIVER={log_driver}\nTEST_IMAGE={test_image}\n"
        )

    write_env()
    project_info = type(
        "OpsProject",
        (),
        {"path": project, "name": name, "state": state, "write_env": staticmethod(write_env)},
    )
    yield project_info
    run_invoke(project, "down")
    for container in project_containers(docker_engine, name):
        container.remove(force=True)


def scaffold(project: Path) -> None:
    done = run_invoke(project, "secrets.scaffold")
    assert done.returncode == 0, done.stdout + done.stderr


def test_missing_secrets_stop_up_before_anything_starts(ops_project, docker_engine) -> None:
    done = run_invoke(ops_project.path, "up", "--profiles", "core")
    assert done.returncode == 2
    assert "secret file(s) not ready: web_token (missing)" in done.stderr
    assert "hint: invoke secrets.scaffold" in done.stderr
    assert "Traceback" not in done.stderr
    assert project_containers(docker_engine, ops_project.name) == []


def test_loki_plugin_missing_is_caught_before_up_and_fallback_starts(
    ops_project, docker_engine
) -> None:
    scaffold(ops_project.path)
    ops_project.write_env(log_driver="loki")
    done = run_invoke(ops_project.path, "up", "--profiles", "core")
    assert done.returncode == 2
    assert "the Loki logging driver plugin is not installed" in done.stderr
    assert "--alias loki" in done.stderr and "LOG_DRIVER=local" in done.stderr
    assert project_containers(docker_engine, ops_project.name) == []

    preflight = run_invoke(ops_project.path, "loki.preflight", "--profiles", "core")
    assert preflight.returncode == 2  # a missing plugin is an environment problem everywhere
    assert "FAIL" in preflight.stdout and "not installed" in preflight.stdout

    ops_project.write_env(log_driver="local")
    assert run_invoke(ops_project.path, "up", "--profiles", "core").returncode == 0


def test_up_ps_down_leaves_nothing_behind(ops_project, docker_engine) -> None:
    scaffold(ops_project.path)
    done = run_invoke(ops_project.path, "up", "--profiles", "core,data")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "all services of core,data are healthy" in done.stderr
    assert (ops_project.state / "store" / "started").is_file()  # state dir was prepared

    ps = run_invoke(ops_project.path, "ps")
    assert ps.returncode == 0
    rows = {line.split()[0]: line.split() for line in ps.stdout.splitlines()[2:]}
    assert set(rows) == {"web", "store"}
    assert rows["web"][1:4] == ["core", "running", "healthy"]
    assert rows["store"][1:4] == ["data", "running", "healthy"]
    assert "127.0.0.1:" in ps.stdout  # published on loopback only

    down = run_invoke(ops_project.path, "down")
    assert down.returncode == 0
    assert project_containers(docker_engine, ops_project.name) == []
    assert project_networks(docker_engine, ops_project.name) == []
    assert (ops_project.state / "store" / "started").is_file()  # host state kept


def test_dependency_profiles_are_added_and_dns_works(ops_project, docker_engine) -> None:
    scaffold(ops_project.path)
    done = run_invoke(ops_project.path, "up", "--profiles", "app")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "adding profile(s) data: app depend(s) on them" in done.stderr
    services = {
        c.labels["com.docker.compose.service"]: c
        for c in project_containers(docker_engine, ops_project.name)
    }
    assert set(services) == {"worker", "store"}
    # worker's healthcheck fetches http://store:8080/ by Docker DNS name
    assert services["worker"].attrs["State"]["Health"]["Status"] == "healthy"


def test_unhealthy_service_fails_up_with_redacted_log_tail(ops_project, docker_engine) -> None:
    scaffold(ops_project.path)
    token = (ops_project.path / "secrets" / "web_token").read_text()
    done = run_invoke(ops_project.path, "up", "--profiles", "broken", "--wait-timeout", "30")
    assert done.returncode == 1
    assert "did not become healthy" in done.stderr
    assert "last 20 log lines of sick" in done.stderr
    assert "token is [REDACTED]" in done.stderr
    assert token not in done.stdout + done.stderr
    assert "nothing was rolled back" in done.stderr
    assert project_containers(docker_engine, ops_project.name)  # kept for inspection

    logs = run_invoke(ops_project.path, "logs", "--service", "sick")
    assert "token is [REDACTED]" in logs.stdout and token not in logs.stdout


def test_down_on_failure_is_opt_in(ops_project, docker_engine) -> None:
    scaffold(ops_project.path)
    done = run_invoke(
        ops_project.path, "up", "--profiles", "broken", "--wait-timeout", "20", "--down-on-failure"
    )
    assert done.returncode == 1
    assert project_containers(docker_engine, ops_project.name) == []


def test_volumes_need_explicit_confirmation(ops_project) -> None:
    done = run_invoke(ops_project.path, "down", "--volumes")
    assert done.returncode == 2 and "--yes-delete-volumes" in done.stderr
    assert run_invoke(ops_project.path, "down", "--volumes", "--yes-delete-volumes").returncode == 0


def test_up_needs_an_explicit_selection(ops_project, docker_engine) -> None:
    done = run_invoke(ops_project.path, "up")
    assert done.returncode == 2 and "--profiles core,data" in done.stderr
    assert project_containers(docker_engine, ops_project.name) == []


def test_unknown_profile_lists_the_known_ones(ops_project) -> None:
    done = run_invoke(ops_project.path, "up", "--profiles", "nope")
    assert done.returncode == 2
    assert "known profiles: app, broken, core, data" in done.stderr


def test_canary_secrets_never_appear_in_any_output(ops_project, docker_engine) -> None:
    """Plant unique canaries in every secret; no task may ever print one."""
    secrets_dir = ops_project.path / "secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    canaries = {}
    for name in ("web_token", "store_password"):
        canaries[name] = f"CANARY-{name}-{random.token_hex(8)}"
        path = secrets_dir / name
        path.write_text(canaries[name])
        path.chmod(0o600)
    outputs = [
        run_invoke(ops_project.path, "secrets.scaffold", "--check"),
        run_invoke(ops_project.path, "up", "--profiles", "core,data"),
        run_invoke(ops_project.path, "up", "--profiles", "broken", "--wait-timeout", "20"),
        run_invoke(ops_project.path, "ps"),
        run_invoke(ops_project.path, "logs"),
        run_invoke(ops_project.path, "loki.preflight"),
        run_invoke(ops_project.path, "check", "--format", "json"),
        run_invoke(ops_project.path, "down"),
    ]
    text = "".join(o.stdout + o.stderr for o in outputs)
    assert "token is [REDACTED]" in text  # the careless service really printed it
    for canary in canaries.values():
        assert canary not in text


def test_real_stack_stops_at_the_loki_preflight_and_never_prints_a_secret(
    copy_tree, tmp_path: Path, docker_engine
) -> None:
    """The project's own stack on this engine: no Loki plugin, so up must stop cleanly."""
    from conftest import REPO

    stack = copy_tree(REPO, "real")
    name = f"real{random.token_hex(4)}"
    env = (stack / ".env.example").read_text()
    env = env.replace("COMPOSE_PROJECT_NAME=platform", f"COMPOSE_PROJECT_NAME={name}")
    env = env.replace(
        "DEFAULT_MOUNT_VOLUME_PATH=/srv/platform", f"DEFAULT_MOUNT_VOLUME_PATH={tmp_path / 'state'}"
    )
    (stack / ".env").write_text(env)
    assert run_invoke(stack, "secrets.scaffold").returncode == 0
    canaries = []
    for path in sorted((stack / "secrets").iterdir()):
        if path.name == "README":
            continue
        canary = f"CANARY{random.token_hex(10)}"
        canaries.append(canary)
        original = path.read_text()
        # keep the kind's shape (rabbitmq-conf is key = value lines)
        path.write_text(original.replace(original.strip().split()[-1], canary))

    up = run_invoke(stack, "up", "--profiles", "core,data")
    assert up.returncode == 2, up.stderr
    assert "error: the Loki logging driver plugin is not installed" in up.stderr
    assert "Traceback" not in up.stderr
    assert project_containers(docker_engine, name) == []  # nothing half-started

    outputs = [
        up,
        run_invoke(stack, "secrets.scaffold", "--check"),
        run_invoke(stack, "loki.preflight", "--profiles", "core,data"),
        run_invoke(stack, "check", "--format", "json"),
        run_invoke(stack, "validate"),
        run_invoke(stack, "ps"),
        run_invoke(stack, "logs"),
    ]
    text = "".join(o.stdout + o.stderr for o in outputs)
    assert len(canaries) == 15
    for canary in canaries:
        assert canary not in text
