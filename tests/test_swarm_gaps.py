"""Swarm loses no control without a gap row, and deploy refuses what it cannot keep.

Pure: the translator and the gap table over hand-written rendered models (the
shape ``docker compose config --format json`` gives), and deploy's refusal with
the cluster preflight stubbed out, so no engine is touched.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from checks.addresses import is_loopback
from checks.rules.hygiene import loopback_ports
from checks.stack import Stack
from stackctl.errors import EnvironmentProblem
from stackctl.swarm import cluster, deploy, gaps
from stackctl.swarm.gaps import Enforcement
from stackctl.swarm.translate import translate

BASE = {"image": "example/app:1.0", "cap_drop": ["ALL"], "init": True}


def model(extra: dict[str, Any] | None = None, **service: Any) -> dict[str, Any]:
    return {
        "name": "demo",
        "services": {"app": {**BASE, **service}},
        "networks": {"platform": {"name": "demo-net"}},
        **(extra or {}),
    }


def app(result: Any) -> dict[str, Any]:
    service: dict[str, Any] = result.stack["services"]["app"]
    return service


NODES = [gaps.NodeProbe("node0", True)]


def row(source: dict[str, Any], control: str) -> gaps.Gap:
    return next(g for g in gaps.assess(source, NODES) if g.control == control)


# -- legacy limits -------------------------------------------------------------------------

LEGACY = {"mem_limit": "268435456", "cpus": 0.5, "pids_limit": 64, "mem_reservation": "67108864"}


def test_legacy_limits_become_deploy_resources() -> None:
    result = translate(model(**LEGACY))
    resources = app(result)["deploy"]["resources"]
    assert resources["limits"] == {"memory": "268435456", "cpus": "0.5", "pids": 64}
    assert resources["reservations"] == {"memory": "67108864"}
    assert not [n for n in result.notes if "not supported" in n.message]
    assert {n.key for n in result.notes} >= set(LEGACY)


def test_the_gap_table_counts_legacy_limits_as_enforced() -> None:
    source = model(**LEGACY)
    for control in ("memory limit", "cpu limit", "pids limit"):
        assert row(source, control).status is Enforcement.ENFORCED, control


def test_a_deploy_limit_wins_over_the_legacy_key() -> None:
    deploy_limits = {"resources": {"limits": {"memory": "134217728"}}}
    resources = app(translate(model(mem_limit="268435456", deploy=deploy_limits)))["deploy"]
    assert resources["resources"]["limits"] == {"memory": "134217728"}


def test_limits_a_task_cannot_carry_are_a_blocking_gap() -> None:
    gap = row(model(memswap_limit="536870912", cpuset="0"), "other resource limits")
    assert gap.status is Enforcement.LOST and gap.blocking
    assert "app: memswap_limit, cpuset" in gap.detail
    assert row(model(), "other resource limits").status is Enforcement.NOT_USED


# -- loopback: one helper for 127.0.0.0/8 and ::1 ----------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.3", True),
        ("localhost", True),
        ("10.0.0.5", False),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("128.0.0.1", False),
        ("127.0.0.1.example.com", False),
    ],
)
def test_loopback_is_127_0_0_0_8_and_ipv6_one(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def port(host_ip: str, published: str = "8080") -> dict[str, Any]:
    return {"mode": "ingress", "host_ip": host_ip, "target": 80, "published": published}


@pytest.mark.parametrize("host_ip", ["127.0.0.2", "::1", "127.1.2.3"])
def test_any_loopback_port_is_not_published_on_swarm(host_ip: str) -> None:
    result = translate(model(ports=[port(host_ip)]))
    assert "ports" not in app(result)
    assert host_ip in result.notes_for("ports")[0].message
    assert row(model(ports=[port(host_ip)]), "loopback-only published ports").status is (
        Enforcement.COMPENSATED
    )


@pytest.mark.parametrize("host_ip", ["127.0.0.2", "::1"])
def test_hyg_002_accepts_every_loopback_address(host_ip: str) -> None:
    assert list(loopback_ports(Stack(model(ports=[port(host_ip)])))) == []


def test_hyg_002_still_flags_a_port_on_another_address() -> None:
    (hit,) = loopback_ports(Stack(model(ports=[port("10.0.0.5")])))
    assert "10.0.0.5" in hit.message


def test_a_port_on_one_other_address_is_a_blocking_gap() -> None:
    source = model(ports=[port("10.0.0.5", "81"), port("", "82")])
    result = translate(source)
    assert [p["published"] for p in app(result)["ports"]] == [81, 82]
    assert "every interface of every node" in result.notes_for("ports")[0].message
    gap = row(source, "ports on one address")
    assert gap.status is Enforcement.LOST and gap.blocking
    assert "app: 10.0.0.5:81" in gap.detail and "82" not in gap.detail


# -- security profiles ----------------------------------------------------------------------


def test_custom_seccomp_apparmor_and_label_profiles_are_a_blocking_gap() -> None:
    options = [
        "no-new-privileges:true",
        "seccomp=/etc/docker/app.json",
        "apparmor:app-profile",
        "label=type:app_t",
    ]
    gap = row(model(security_opt=options), "seccomp/apparmor/label profiles")
    assert gap.status is Enforcement.LOST and gap.blocking
    for option in options[1:]:
        assert option in gap.detail
    assert "no-new-privileges" not in gap.detail


def test_options_that_only_loosen_lose_nothing_on_swarm() -> None:
    options = ["no-new-privileges:true", "seccomp=unconfined", "apparmor=unconfined"]
    gap = row(model(security_opt=[*options, "label:disable"]), "seccomp/apparmor/label profiles")
    assert gap.status is Enforcement.NOT_USED


# -- tmpfs options ---------------------------------------------------------------------------


def test_tmpfs_options_swarm_drops_are_a_blocking_gap_and_the_size_is_kept() -> None:
    source = model(
        tmpfs=["/tmp:size=64m,mode=1777", "/run:size=16m,mode=0755,uid=1000", "/x:noexec"],
        volumes=[{"type": "tmpfs", "target": "/cache", "tmpfs": {"size": "1000", "mode": 448}}],
    )
    mounts = app(translate(source))["volumes"]
    assert {"type": "tmpfs", "target": "/cache", "tmpfs": {"size": 1000}} in mounts
    assert {"type": "tmpfs", "target": "/run", "tmpfs": {"size": 16 * 1024**2}} in mounts
    gap = row(source, "tmpfs options")
    assert gap.status is Enforcement.LOST and gap.blocking
    for lost in ("/run: mode=0755", "/run: uid=1000", "/x: noexec", "/cache: mode=700"):
        assert lost in gap.detail, lost
    assert "/tmp" not in gap.detail  # size and the default mode 1777 are kept


def test_tmpfs_with_size_and_default_mode_needs_no_row() -> None:
    assert row(model(tmpfs=["/tmp:size=64m,mode=1777", "/run"]), "tmpfs options").status is (
        Enforcement.NOT_USED
    )


# -- secret owners ---------------------------------------------------------------------------


def with_secret(owner: str | None = None, **service: Any) -> dict[str, Any]:
    generator: Any = {"kind": "hex", "owner": owner} if owner else "hex"
    extra = {
        "secrets": {"token": {"name": "demo_token", "file": "/repo/secrets/token"}},
        "x-secret-generators": {"token": generator},
    }
    return model(extra, secrets=[{"source": "token", "target": "/run/secrets/token"}], **service)


@pytest.mark.parametrize(
    ("user", "uid", "gid"), [("1000", "1000", "1000"), ("1000:50", "1000", "50")]
)
def test_a_secret_without_owner_is_owned_by_the_services_numeric_user(
    user: str, uid: str, gid: str
) -> None:
    source = with_secret(user=user)
    (ref,) = app(translate(source))["secrets"]
    assert (ref["uid"], ref["gid"], ref["mode"]) == (uid, gid, 0o400)
    assert row(source, "secret owners").status is Enforcement.ENFORCED


def test_a_declared_owner_wins_over_the_user() -> None:
    (ref,) = app(translate(with_secret(user="1000"), secret_owners={"token": (70, 70)}))["secrets"]
    assert (ref["uid"], ref["gid"]) == ("70", "70")


def test_root_reads_swarms_default_copy() -> None:
    source = with_secret()
    (ref,) = app(translate(source))["secrets"]
    assert "uid" not in ref
    assert row(source, "secret owners").status is Enforcement.NOT_USED


def test_a_named_user_without_an_owner_is_a_blocking_gap() -> None:
    source = with_secret(user="postgres")
    result = translate(source)
    assert "uid" not in app(result)["secrets"][0]
    assert "token" in result.notes_for("secrets")[0].message
    gap = row(source, "secret owners")
    assert gap.status is Enforcement.LOST and gap.blocking and "app: token" in gap.detail
    owned = row(with_secret(owner="999:999", user="postgres"), "secret owners")
    assert owned.status is Enforcement.ENFORCED


# -- deploy refuses every blocking row --------------------------------------------------------


# Never called: the refusal comes before deploy touches the cluster.
NO_ENGINE = cast(cluster.Docker, None)


def test_start_order_stays_advisory() -> None:
    gap = row(model(depends_on={"db": {"condition": "service_healthy"}}), "depends_on start order")
    assert gap.status is Enforcement.LOST and not gap.blocking


@pytest.mark.parametrize(
    ("control", "service"),
    [
        ("ports on one address", {"ports": [port("10.0.0.5")]}),
        ("tmpfs options", {"tmpfs": ["/run:mode=0700"]}),
        ("seccomp/apparmor/label profiles", {"security_opt": ["seccomp=/p.json"]}),
        ("other resource limits", {"cpu_quota": 50000}),
    ],
)
def test_deploy_refuses_each_lost_control_unless_accepted(
    monkeypatch: pytest.MonkeyPatch, control: str, service: dict[str, Any]
) -> None:
    monkeypatch.setattr(deploy, "preflight", lambda *args: NODES)  # the cluster checks pass
    with pytest.raises(EnvironmentProblem) as refused:
        deploy.deploy(NO_ENGINE, deploy.plan(model(**service), "demo"), progress=lambda _: None)
    assert control in refused.value.message
    assert "--accept-swarm-gaps" in (refused.value.hint or "")
