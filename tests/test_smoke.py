"""`smoke`: a throwaway project, verified and probed, then removed; never a silent pass."""

from __future__ import annotations

import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from opsstack import SERVICE_PROFILES, project_containers, project_networks, remove_everything

from cli import run_stackctl
from conftest import OPS_FIXTURE, REPO
from stackctl.operating.smoke import NOT_RUN, ports_of
from stackctl.runtime.comparison import RUNTIME_CHECKS

engine = pytest.mark.engine


def smoke_project_of(stderr: str) -> str:
    """The throwaway project this run made, as smoke names it: another suite on the same
    engine may run smoke at the same time, so nothing is judged by "every smoke-*"."""
    match = re.search(r"^smoke (smoke-[0-9a-f]+): starting", stderr, re.MULTILINE)
    assert match, stderr[-3000:]
    return match.group(1)


def containers_of(engine, project: str) -> list[str]:
    return [
        c.name
        for c in engine.containers.list(all=True, ignore_removed=True)
        if c.labels.get("com.docker.compose.project") == project
    ]


@engine
def test_fixture_smoke_passes_writes_junit_and_leaves_nothing(
    docker_engine, test_image: str, tmp_path: Path
) -> None:
    junit = tmp_path / "reports" / "smoke.xml"
    done = run_stackctl(
        OPS_FIXTURE, "smoke", "--fixture", "--profiles", SERVICE_PROFILES, "--junit", str(junit)
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "passed" in done.stdout and "torn down" in done.stderr

    suites = ET.parse(junit).getroot()
    cases = suites.findall(".//testcase")
    containers = {s.get("name") for s in suites.findall("testsuite")} - {"start", "reachability"}
    assert len(containers) == 4  # web, store, worker, keeper
    checks_per_container = len(RUNTIME_CHECKS)
    probes = 3  # web, store and keeper declare port 8080
    assert len(cases) == 1 + 4 * checks_per_container + probes
    assert suites.findall(".//failure") == []
    project = smoke_project_of(done.stderr)
    assert containers_of(docker_engine, project) == []  # nothing of this run is left
    assert project_networks(docker_engine, project) == []


@engine
def test_a_failing_selection_fails_smoke_and_is_removed(
    docker_engine, test_image: str, tmp_path: Path
) -> None:
    junit = tmp_path / "smoke.xml"
    done = run_stackctl(
        OPS_FIXTURE,
        "smoke",
        "--fixture",
        "--profiles",
        "broken",
        "--wait-timeout",
        "30",
        "--junit",
        str(junit),
    )
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    assert "did not become healthy" in done.stdout and "FAILED" in done.stdout
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert len(failures) == 1 and "sick" in (failures[0].text or "")
    project = smoke_project_of(done.stderr)
    assert containers_of(docker_engine, project) == []


@engine
def test_keep_leaves_the_project_running(docker_engine, test_image: str, tmp_path: Path) -> None:
    done = run_stackctl(
        OPS_FIXTURE,
        "smoke",
        "--fixture",
        "--profiles",
        "core",
        "--keep",
        "--junit",
        str(tmp_path / "smoke.xml"),
    )
    kept = [smoke_project_of(done.stderr)]  # only ever this run's: never another suite's
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        assert containers_of(docker_engine, kept[0]) and "--keep" in done.stderr
        (name,) = kept
        assert {
            c.labels["com.docker.compose.service"] for c in project_containers(docker_engine, name)
        } == {"web"}
    finally:
        for name in kept:
            remove_everything(docker_engine, name)
            for workdir in Path(tempfile.gettempdir()).glob(f"stackctl-{name}-*"):
                shutil.rmtree(workdir)
    for name in kept:
        assert project_networks(docker_engine, name) == []


@engine
def test_real_stack_without_its_images_is_not_run_with_a_distinct_code(
    copy_tree, docker_engine, tmp_path: Path
) -> None:
    stack = copy_tree(REPO, "real")
    (stack / ".env").write_text((stack / ".env.example").read_text())
    done = run_stackctl(stack, "smoke", "--profiles", "core", "--junit", str(tmp_path / "s.xml"))
    assert done.returncode == NOT_RUN, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "smoke not run" in errors[0] and "not present locally" in errors[0]
    assert "Traceback" not in done.stderr


def test_declared_ports_come_from_expose_and_port_targets() -> None:
    spec = {"expose": ["9000", "9001/udp"], "ports": [{"target": 8080, "protocol": "tcp"}]}
    assert ports_of(spec) == ["8080", "9000"]  # nc probes TCP only
    assert ports_of({}) == []
