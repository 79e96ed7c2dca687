"""Runtime verification: the comparisons as pure functions, then on a real engine.

The key engine test re-creates a fixture container by hand with compose's
labels copied (config-hash included, so compose itself would trust it) but
without its hardening, and expects each lost control by its requirement ID.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from opsstack import (
    SERVICE_PROFILES,
    make_copy,
    project_containers,
    remove_everything,
)

from checks.capabilities import DOCKER_DEFAULT_CAPABILITIES, capability_names
from checks.conventions import HASH_LABEL, PROJECT_LABEL, SERVICE_LABEL
from checks.exceptions import Waiver, waive
from checks.finding import Severity
from cli import run_invoke
from stackctl.reporting import junit
from stackctl.runtime.collection import observe
from stackctl.runtime.comparison import RUNTIME_CHECKS, compare, unmanaged
from stackctl.runtime.facts import (
    CgroupLimits,
    Expected,
    FileFacts,
    Observed,
    ProcessFacts,
    parse_proc_status,
)
from stackctl.runtime.report import verification_cases, verification_table
from stackctl.runtime.verification import Verification, verify

HARDENED_SPEC: dict[str, Any] = {
    "image": "stackctl-test/busybox:1.0",
    "init": True,
    "read_only": True,
    "user": "1000:1000",
    "cap_drop": ["ALL"],
    "cap_add": ["NET_BIND_SERVICE"],
    "security_opt": ["no-new-privileges:true"],
    "logging": {"driver": "local"},
    "networks": {"platform": None},
    "secrets": [{"source": "key", "target": "/run/secrets/key"}],
    "deploy": {"resources": {"limits": {"memory": "33554432", "cpus": 0.25, "pids": 32}}},
    "healthcheck": {"test": ["CMD", "true"]},
    "restart": "unless-stopped",
}
EXPECTED = Expected("svc", HARDENED_SPEC, "hash-1", {"platform": "proj-net"}, {"key": (1000, 1000)})


def matching_observation() -> Observed:
    attrs = {
        "Name": "/proj-svc-1",
        "Image": "sha256:aaa",
        "State": {"Status": "running", "Health": {"Status": "healthy"}, "Pid": 42},
        "Config": {
            "User": "1000:1000",
            "Labels": {
                "com.docker.compose.project": "proj",
                "com.docker.compose.service": "svc",
                "com.docker.compose.config-hash": "hash-1",
            },
        },
        "HostConfig": {
            "CapDrop": ["ALL"],
            "CapAdd": ["CAP_NET_BIND_SERVICE"],
            "SecurityOpt": ["no-new-privileges:true"],
            "Init": True,
            "Privileged": False,
            "ReadonlyRootfs": True,
            "LogConfig": {"Type": "local"},
            "NetworkMode": "proj-net",
        },
        "NetworkSettings": {"Networks": {"proj-net": {"IPAMConfig": None}}},
        "Mounts": [{"Destination": "/run/secrets/key", "Source": "/s/key", "RW": False}],
    }
    return Observed(
        attrs,
        process=ProcessFacts("host /proc", "docker-init", 1000, frozenset(), True),
        limits=CgroupLimits(33554432, 0.25, 32, "cgroup"),
        files={"/s/key": FileFacts(0o600, 1000, 1000)},
        tag_image_id="sha256:aaa",
    )


def ids(findings) -> set[str]:
    return {f.rule_id for f in findings}


def test_a_container_that_matches_its_model_has_no_findings() -> None:
    assert compare(EXPECTED, matching_observation()) == []


@pytest.mark.parametrize(
    ("change", "check", "requirement"),
    [
        (lambda o: o.attrs["State"]["Health"].update(Status="unhealthy"), "RUN-001", "PRJ-HEALTH"),
        (lambda o: o.attrs["HostConfig"].update(CapDrop=[]), "RUN-002", "SEC-SPC-OPT-001"),
        (
            lambda o: o.attrs["HostConfig"].update(CapAdd=["SYS_ADMIN"]),
            "RUN-002",
            "SEC-SPC-OPT-001",
        ),
        (
            lambda o: setattr(
                o, "process", ProcessFacts("x", "docker-init", 1000, frozenset({"CHOWN"}), True)
            ),
            "RUN-003",
            "SEC-SPC-OPT-001",
        ),
        (lambda o: o.attrs["HostConfig"].update(SecurityOpt=None), "RUN-004", "SEC-SPC-OPT-001"),
        (
            lambda o: setattr(
                o, "process", ProcessFacts("x", "docker-init", 1000, frozenset(), False)
            ),
            "RUN-004",
            "SEC-SPC-OPT-001",
        ),
        (lambda o: o.attrs["HostConfig"].update(Privileged=True), "RUN-005", "SEC-SPC-OPT-001"),
        (lambda o: o.attrs["HostConfig"].update(Init=False), "RUN-006", "SEC-SPC-OPT-001"),
        (
            lambda o: setattr(o, "process", ProcessFacts("x", "sh", 1000, frozenset(), True)),
            "RUN-006",
            "SEC-SPC-OPT-001",
        ),
        (
            lambda o: o.attrs["HostConfig"].update(ReadonlyRootfs=False),
            "RUN-007",
            "SEC-SPC-OPT-001",
        ),
        (
            lambda o: setattr(o, "limits", CgroupLimits(None, 0.25, 32)),
            "RUN-008",
            "REQ-SPC-OPT-002",
        ),
        (
            lambda o: setattr(o, "limits", CgroupLimits(33554432, 2.0, 32)),
            "RUN-009",
            "REQ-SPC-OPT-002",
        ),
        (
            lambda o: setattr(o, "limits", CgroupLimits(33554432, 0.25, None)),
            "RUN-010",
            "REQ-SPC-OPT-002",
        ),
        (lambda o: o.attrs["Config"].update(User=""), "RUN-011", "SEC-SPC-OPT-001"),
        (
            lambda o: setattr(o, "process", ProcessFacts("x", "docker-init", 0, frozenset(), True)),
            "RUN-011",
            "SEC-SPC-OPT-001",
        ),
        (lambda o: o.attrs.update(Mounts=[]), "RUN-012", "REQ-SPC-OPT-004"),
        (lambda o: o.attrs["Mounts"][0].update(RW=True), "RUN-012", "REQ-SPC-OPT-004"),
        (
            lambda o: o.files.update({"/s/key": FileFacts(0o644, 1000, 1000)}),
            "RUN-012",
            "REQ-SPC-OPT-004",
        ),
        (
            lambda o: o.files.update({"/s/key": FileFacts(0o600, 0, 0)}),
            "RUN-012",
            "REQ-SPC-OPT-004",
        ),
        (
            lambda o: o.attrs["HostConfig"].update(LogConfig={"Type": "json-file"}),
            "RUN-013",
            "PRJ-LOG",
        ),
        (
            lambda o: o.attrs["NetworkSettings"].update(Networks={"bridge": {}}),
            "RUN-014",
            "REQ-SPC-OPT-003",
        ),
        (
            lambda o: o.attrs["NetworkSettings"]["Networks"]["proj-net"].update(
                IPAMConfig={"IPv4Address": "10.0.0.9"}
            ),
            "RUN-014",
            "REQ-SPC-OPT-003",
        ),
        (lambda o: setattr(o, "tag_image_id", "sha256:bbb"), "RUN-015", "PRJ-HYGIENE"),
        (
            lambda o: o.attrs["Config"]["Labels"].update({HASH_LABEL: "old"}),
            "RUN-016",
            "PRJ-DRIFT",
        ),
        (lambda o: o.attrs["Config"]["Labels"].pop(HASH_LABEL), "RUN-017", "PRJ-DRIFT"),
    ],
)
def test_each_lost_control_is_named_with_its_requirement(change, check, requirement) -> None:
    observed = matching_observation()
    change(observed)
    findings = compare(EXPECTED, observed)
    assert check in ids(findings), [f.message for f in findings]
    assert {f.requirement for f in findings if f.rule_id == check} == {requirement}
    assert all(f.message.startswith("proj-svc-1: ") for f in findings)


def test_a_pinned_digest_must_be_the_one_running() -> None:
    digest = "sha256:" + "a" * 64
    spec = {**HARDENED_SPEC, "image": f"registry.example/app:1@{digest}"}
    observed = matching_observation()
    observed.image_digests = (f"registry.example/app@{digest}",)
    assert (
        compare(
            Expected("svc", spec, "hash-1", {"platform": "proj-net"}, {"key": (1000, 1000)}),
            observed,
        )
        == []
    )
    observed.image_digests = ("registry.example/app@sha256:" + "b" * 64,)
    found = compare(
        Expected("svc", spec, "hash-1", {"platform": "proj-net"}, {"key": (1000, 1000)}), observed
    )
    assert ids(found) == {"RUN-015"}


def test_unreadable_proc_is_a_low_finding_that_does_not_fail() -> None:
    observed = matching_observation()
    observed.process, observed.process_error = None, "the image has no `cat`"
    findings = compare(EXPECTED, observed)
    assert findings and all(f.severity == Severity.LOW for f in findings)
    assert ids(findings) == {"RUN-003", "RUN-004", "RUN-011"}
    result = Verification("proj", [("proj-svc-1", "svc")], findings)
    assert result.ok and "cannot verify" in verification_table(result)


def test_a_one_shot_job_may_have_exited_zero_but_not_failed() -> None:
    spec = {**HARDENED_SPEC, "restart": "no"}
    observed = matching_observation()
    observed.attrs["State"] = {"Status": "exited", "ExitCode": 0}
    observed.process, observed.process_error = None, "the container is not running"
    assert "RUN-001" not in ids(compare(Expected("svc", spec), observed))
    observed.attrs["State"]["ExitCode"] = 3
    assert "RUN-001" in ids(compare(Expected("svc", spec), observed))


def test_strangers_on_the_project_network_and_orphans_are_reported() -> None:
    stranger = {"Name": "/intruder", "Config": {"Labels": {}}}
    assert ids(unmanaged(stranger, "proj", ["svc"])) == {"RUN-017"}
    orphan = {
        "Name": "/proj-gone-1",
        "Config": {"Labels": {PROJECT_LABEL: "proj", SERVICE_LABEL: "gone"}},
    }
    assert "no longer declares" in unmanaged(orphan, "proj", ["svc"])[0].message
    member = {
        "Name": "/proj-svc-1",
        "Config": {"Labels": {PROJECT_LABEL: "proj", SERVICE_LABEL: "svc"}},
    }
    assert unmanaged(member, "proj", ["svc"]) == []


def test_an_exception_for_the_static_rule_also_covers_its_runtime_check() -> None:
    observed = matching_observation()
    observed.process = ProcessFacts("x", "docker-init", 1000, frozenset({"CHOWN"}), True)
    findings = compare(EXPECTED, observed)
    waiver = Waiver(0, "svc", "PRIV-005", "SEC-SPC-OPT-001", ("CHOWN",), "cap", "why", "adr", None)
    waived, _ = waive(findings, [waiver], dt.date(2026, 1, 1))
    assert [f.suppressed for f in waived] == [True]
    expired = Waiver(0, "svc", "PRIV-005", "", (), "cap", "why", "adr", dt.date(2020, 1, 1))
    assert not waive(findings, [expired], dt.date(2026, 1, 1))[0][0].suppressed


def test_runtime_and_static_findings_share_the_one_matcher() -> None:
    """The registry's matcher, not a second one: "*" relaxes every subject, and a
    waiver for the runtime rule itself, or for another service, behaves as for check."""
    observed = matching_observation()
    observed.process = ProcessFacts("x", "docker-init", 1000, frozenset({"CHOWN"}), True)
    findings = compare(EXPECTED, observed)
    every = Waiver(3, "svc", "PRIV-005", "", ("*",), "caps", "why", "adr", None)
    waived, used = waive(findings, [every], dt.date(2026, 1, 1))
    assert [f.suppressed for f in waived] == [True] and used == {3}
    assert waived[0].suppressed_relaxes == "caps"
    own = Waiver(0, "svc", "RUN-003", "", ("CHOWN",), "cap", "why", "adr", None)
    assert waive(findings, [own], dt.date(2026, 1, 1))[0][0].suppressed
    other = Waiver(0, "db", "PRIV-005", "", ("*",), "cap", "why", "adr", None)
    assert not waive(findings, [other], dt.date(2026, 1, 1))[0][0].suppressed
    unrelated = Waiver(0, "svc", "PRIV-002", "", ("*",), "nnp", "why", "adr", None)
    assert not waive(findings, [unrelated], dt.date(2026, 1, 1))[0][0].suppressed


def test_json_findings_carry_the_keys_of_every_finding_plus_the_container() -> None:
    from stackctl.reporting.findings import finding_dict
    from stackctl.runtime.report import verification_data

    observed = matching_observation()
    observed.attrs["HostConfig"]["ReadonlyRootfs"] = False
    findings = compare(EXPECTED, observed)
    (item,) = verification_data(Verification("proj", [("proj-svc-1", "svc")], findings))["findings"]
    assert set(item) == set(finding_dict(findings[0])) | {"container"}
    assert item["rule"] == "RUN-007" and item["container"] == "proj-svc-1"
    assert item["source"] == "container proj-svc-1" and "check" not in item


def test_proc_status_parsing() -> None:
    text = (
        "Name:\tdocker-init\nUid:\t0\t1000\t1000\t1000\nCapEff:\t0000000000000401\nNoNewPrivs:\t1\n"
    )
    facts = parse_proc_status(text, "host /proc")
    assert facts.name == "docker-init" and facts.uid == 1000 and facts.no_new_privs is True
    assert facts.effective == {"CHOWN", "NET_BIND_SERVICE"}
    assert capability_names(0x3FFFFFFFFF) >= DOCKER_DEFAULT_CAPABILITIES


def test_junit_has_one_case_per_container_and_check() -> None:
    observed = matching_observation()
    observed.attrs["HostConfig"]["ReadonlyRootfs"] = False
    result = Verification("proj", [("proj-svc-1", "svc")], compare(EXPECTED, observed))
    xml = junit(verification_cases(result), "verify")
    assert xml.count("<testcase") == len(RUNTIME_CHECKS)
    assert xml.count("<failure") == 1 and "RUN-007" in xml
    assert "svc: proj-svc-1: root filesystem is writable" in xml


# -- on a real engine ---------------------------------------------------------------------


@pytest.fixture
def running_stack(tmp_path: Path, docker_engine, test_image: str):
    copy = make_copy(tmp_path, test_image, "verify")
    copy.scaffold()
    strangers: list[str] = []
    copy.strangers = strangers
    try:
        done = run_invoke(copy.path, "up", "--profiles", SERVICE_PROFILES)
        assert done.returncode == 0, done.stderr[-3000:]
        yield copy
    finally:
        remove_everything(docker_engine, copy.name, strangers)


def run_verify(copy) -> Verification:
    import docker

    from stackctl.project.compose import Compose, Project
    from stackctl.project.render import render

    compose = Compose(Project.at(copy.path, ".env"))
    model = render(compose, ["core", "data", "app", "nonroot"])
    return verify(compose, model, client=docker.from_env())


@pytest.mark.engine
def test_engine_stack_as_declared_has_no_drift(running_stack) -> None:
    result = run_verify(running_stack)
    assert {s for _, s in result.containers} == {"web", "store", "worker", "keeper"}
    assert result.findings == [], verification_table(result)


@pytest.mark.engine
def test_engine_container_recreated_without_hardening_is_caught(
    running_stack, docker_engine
) -> None:
    """Labels (config-hash included) copied, hardening left out: every loss is named."""
    original = docker_engine.containers.get(f"{running_stack.name}-web-1")
    labels, image = original.labels, original.attrs["Config"]["Image"]
    original.remove(force=True)
    # The same service by hand: the web server, compose's labels, the project network
    # and its DNS alias, but none of the hardening and not the secret.
    network = running_stack.network
    impostor = docker_engine.containers.create(
        image,
        ["httpd", "-f", "-p", "8080", "-h", "/www"],
        name=f"{running_stack.name}-web-1",
        labels=labels,
        detach=True,
        healthcheck={"test": ["CMD", "true"], "interval": 1_000_000_000},
        network=network,
        networking_config={network: docker_engine.api.create_endpoint_config(aliases=["web"])},
    )
    impostor.start()

    result = run_verify(running_stack)
    lost = {(f.rule_id, f.requirement) for f in result.failing if f.service == "web"}
    assert lost >= {
        ("RUN-002", "SEC-SPC-OPT-001"),  # cap_drop ALL
        ("RUN-003", "SEC-SPC-OPT-001"),  # PID 1 holds default capabilities
        ("RUN-004", "SEC-SPC-OPT-001"),  # no-new-privileges
        ("RUN-006", "SEC-SPC-OPT-001"),  # init
        ("RUN-007", "SEC-SPC-OPT-001"),  # read-only root
        ("RUN-008", "REQ-SPC-OPT-002"),  # memory
        ("RUN-009", "REQ-SPC-OPT-002"),  # cpu
        ("RUN-010", "REQ-SPC-OPT-002"),  # pids
        ("RUN-012", "REQ-SPC-OPT-004"),  # secret not mounted
        ("RUN-013", "PRJ-LOG"),  # logging driver
    }, verification_table(result)
    assert not result.ok
    # the other containers are untouched and still match
    assert {f.service for f in result.failing} == {"web"}

    # The same through the command line, and `up` no longer calls this healthy.
    cli = run_invoke(running_stack.path, "verify", "--profiles", SERVICE_PROFILES)
    assert cli.returncode == 1, cli.stderr
    for requirement in ("SEC-SPC-OPT-001", "REQ-SPC-OPT-002", "REQ-SPC-OPT-004", "PRJ-LOG"):
        assert requirement in cli.stdout
    assert "drift:" in cli.stdout
    junit = run_invoke(running_stack.path, "verify", "--format", "junit")
    assert junit.returncode == 1 and junit.stdout.count("<testcase") == 4 * len(RUNTIME_CHECKS)
    again = run_invoke(running_stack.path, "up", "--profiles", SERVICE_PROFILES)
    assert again.returncode == 1
    assert "differs from the model" in again.stderr and "are healthy" not in again.stderr


@pytest.mark.engine
def test_engine_stranger_on_the_network_and_loose_secret_are_caught(
    running_stack, docker_engine, test_image: str
) -> None:
    stranger = f"{running_stack.name}-stranger"
    running_stack.strangers.append(stranger)
    docker_engine.containers.run(
        test_image, ["sleep", "60"], name=stranger, network=running_stack.network, detach=True
    )
    key = running_stack.path / "secrets" / "keeper_key"
    key.chmod(0o644)
    result = run_verify(running_stack)
    messages = {(f.rule_id, f.service): f.message for f in result.failing}
    assert ("RUN-017", "") in messages and stranger in messages[("RUN-017", "")]
    assert ("RUN-012", "keeper") in messages and "0644" in messages[("RUN-012", "keeper")]
    key.chmod(0o600)
    assert run_verify(running_stack).ok is False  # the stranger is still there

    # down cannot remove a network a stranger holds: it says so, with exit 1
    down = run_invoke(running_stack.path, "down")
    assert down.returncode == 1
    assert f"network {running_stack.network} (in use by {stranger})" in down.stderr
    docker_engine.containers.get(stranger).remove(force=True)
    assert run_invoke(running_stack.path, "down").returncode == 0


@pytest.mark.engine
def test_engine_non_root_service_runs_with_its_uid(running_stack, docker_engine) -> None:
    keeper = docker_engine.containers.get(f"{running_stack.name}-keeper-1")
    observed = observe(docker_engine, keeper.id, "")
    assert observed.process is not None and observed.process.uid == 1000
    assert observed.process.effective == frozenset()
    assert observed.limits.source == "cgroup" or observed.limits.memory == 32 * 1024 * 1024


# -- operations that report what is true -------------------------------------------------


@pytest.fixture
def ops_copy(tmp_path: Path, docker_engine, test_image: str):
    copy = make_copy(tmp_path, test_image, "ops")
    copy.scaffold()
    yield copy
    remove_everything(docker_engine, copy.name)


@pytest.mark.engine
def test_engine_a_taken_host_port_stops_up_before_anything_starts(ops_copy, docker_engine) -> None:
    import socket

    web = ops_copy.path / "infra" / "10-core" / "web" / "docker-compose.yml"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        web.write_text(web.read_text().replace('"127.0.0.1::8080"', f'"127.0.0.1:{port}:8080"'))
        done = run_invoke(ops_copy.path, "up", "--profiles", "core")
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"host port(s) already taken: 127.0.0.1:{port}/tcp (web)" in done.stderr
        assert project_containers(docker_engine, ops_copy.name) == []
    assert run_invoke(ops_copy.path, "up", "--profiles", "core").returncode == 0
    again = run_invoke(ops_copy.path, "up", "--profiles", "core")  # held by itself: fine
    assert again.returncode == 0, again.stderr[-2000:]


@pytest.mark.engine
def test_engine_failure_report_covers_the_selection_only(ops_copy, docker_engine) -> None:
    first = run_invoke(ops_copy.path, "up", "--profiles", "leaky", "--wait-timeout", "20")
    assert first.returncode == 1 and "last 20 log lines of leaky" in first.stderr
    second = run_invoke(ops_copy.path, "up", "--profiles", "broken", "--wait-timeout", "20")
    assert second.returncode == 1
    assert "last 20 log lines of sick" in second.stderr
    assert "leaky" not in second.stderr  # still unhealthy, but not part of this selection
