"""ACCESS-001 on the project itself: a copy of the stack with one router's SSO
middleware removed, or one service's declared policy removed, fails ``check``
naming the router and the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli import run_stackctl
from conftest import REPO

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

DYNAMIC = Path("infra/10-core/traefik/config/dynamic.yml")


def _open(project: Path) -> tuple[int, list[dict[str, Any]]]:
    done = run_stackctl(project, "check", "--format", "json")
    assert done.returncode in {0, 1}, done.stderr
    findings = [f for f in json.loads(done.stdout)["findings"] if not f["suppressed"]]
    return done.returncode, findings


def test_the_stack_follows_its_access_policy(copy_tree: Any) -> None:
    code, findings = _open(copy_tree(REPO))
    assert code == 0 and not [f for f in findings if f["rule"] == "ACCESS-001"]


@pytest.mark.parametrize(
    ("router", "service"),
    [("grafana", "grafana"), ("pgadmin", "pgadmin"), ("webui", "open-webui"), ("n8n", "n8n")],
)
def test_removing_a_routers_sso_middleware_fails_naming_router_and_service(
    router: str, service: str, copy_tree: Any
) -> None:
    project = copy_tree(REPO)
    path = project / DYNAMIC
    text = path.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert config["http"]["routers"][router].get("middlewares") == ["sso"]
    # Edit the text, not a re-dump: the file is a Go template and keeps its comments.
    block = f"    {router}:\n"
    start = text.index(block)
    end = text.index("      middlewares: [sso]\n", start)
    path.write_text(text[:end] + text[end + len("      middlewares: [sso]\n") :], "utf-8")
    assert "middlewares" not in yaml.safe_load(path.read_text())["http"]["routers"][router]

    code, findings = _open(project)
    assert code == 1
    hits = [f for f in findings if f["rule"] == "ACCESS-001"]
    assert [(f["service"], f["subject"], f["severity"]) for f in hits] == [
        (service, router, "high")
    ]
    assert f"router {router} routes to {service}" in hits[0]["message"]
    table = run_stackctl(project, "check")
    assert table.returncode == 1
    assert f"router {router} routes to {service}" in table.stdout


def test_a_route_to_a_service_without_a_declared_policy_fails(copy_tree: Any) -> None:
    project = copy_tree(REPO)
    compose = project / "infra/70-tooling/mailpit/docker-compose.yml"
    text = compose.read_text(encoding="utf-8")
    compose.write_text(text.replace("      org.platform.access: sso\n", ""), "utf-8")
    code, findings = _open(project)
    assert code == 1
    (hit,) = [f for f in findings if f["rule"] == "ACCESS-001"]
    assert (hit["service"], hit["subject"]) == ("mailpit", "mail")
    assert "which declares no org.platform.access" in hit["message"]
