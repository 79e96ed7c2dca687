"""``stackctl check`` on a Compose project that is not in this repository's layout.

Every test renders with the real compose binary through the installed console
script, on a temporary project, the way another team would run it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checks.catalogue import rule_catalogue
from checks.finding import Finding
from conftest import REPO
from stackctl.reporting.findings import traceability_table

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

SCRIPT = str(Path(sys.executable).parent / "stackctl")
CATALOGUE = rule_catalogue()

# Not our layout: one file at the root, a Swarm-only key, an obsolete version:,
# and ordinary defects the rules should still find.
SINGLE_FILE = """\
version: "3.8"
services:
  web:
    image: nginx:1.27.3
    privileged: true
    deploy:
      labels:
        team: web
"""


def project(tmp_path: Path, files: dict[str, str], env_example: str = "") -> Path:
    root = tmp_path / "their-stack"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / ".env.example").write_text(env_example, encoding="utf-8")
    return root


def check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "check", "--project-dir", str(root), *args],
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def findings(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    body = json.loads(done.stdout)
    return list(body["findings"])


def trace_rows(table_output: str) -> dict[str, list[str]]:
    """Rule ID -> the cells of its traceability row (requirement, rule, ..., pass, fail, ...)."""
    rows: dict[str, list[str]] = {}
    after = table_output.split("Spec traceability", 1)[1]
    for line in after.splitlines():
        cells = line.split()
        if len(cells) >= 2 and cells[1] in CATALOGUE:
            rows[cells[1]] = cells
    return rows


def test_a_single_file_project_lists_compose_warnings_beside_the_other_findings(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, {"docker-compose.yml": SINGLE_FILE})
    done = check(root, "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    found = {(f["rule"], f["service"]): f for f in findings(done)}
    swarm = found[("COMPOSE-001", "web")]
    assert swarm["severity"] == "high" and "deploy.labels" in swarm["message"]
    assert swarm["source"] == "docker-compose.yml" and swarm["line"] > 1
    version = next(f for f in findings(done) if f["rule"] == "COMPOSE-002")
    assert version["severity"] == "low" and "version" in version["message"]
    assert ("PRIV-004", "web") in found  # the ordinary defects are still reported


def test_several_files_are_merged_by_compose_and_checked(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "base.yml": "services:\n  web:\n    image: nginx:1.27.3\n",
            "override.yml": (
                "services:\n  web:\n    privileged: true\n"
                "    command: [nginx, --password=n0t-a-real-secret-value]\n"
            ),
        },
    )
    done = check(root, "-f", "base.yml", "-f", "override.yml", "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    rules = {(f["rule"], f["service"]) for f in findings(done)}
    assert {("PRIV-004", "web"), ("SECRET-006", "web")} <= rules  # each comes from one file
    assert "n0t-a-real-secret-value" not in done.stdout + done.stderr


def test_a_finding_points_at_the_file_given_with_f_that_causes_it(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "base.yml": "services:\n  web:\n    image: nginx:1.27.3\n",
            "override.yml": "services:\n  web:\n    privileged: true\n",
        },
    )
    done = check(root, "-f", "base.yml", "-f", "override.yml", "--format", "json")
    (privileged,) = [f for f in findings(done) if f["rule"] == "PRIV-004"]
    assert privileged["source"] in {"base.yml", "override.yml"}


def test_a_project_without_env_example_is_still_checked(tmp_path: Path) -> None:
    root = project(tmp_path, {"docker-compose.yml": "services:\n  web: {image: nginx:1.27.3}\n"})
    (root / ".env.example").unlink()
    # RES-001 is medium in the portable set: fail on it to see the project was checked.
    done = check(root, "--format", "json", "--fail-on", "medium")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "RES-001" in {f["rule"] for f in findings(done)}


def test_without_env_example_a_local_env_is_never_read(tmp_path: Path) -> None:
    compose_file = 'services:\n  web: {image: "nginx:${TAG:-1.27.3}"}\n'
    root = project(tmp_path, {"docker-compose.yml": compose_file})
    (root / ".env.example").unlink()
    (root / ".env").write_text("TAG=Not-A-Valid-Tag-From-Env\n")
    done = check(root, "--format", "json", "--fail-on", "medium")
    assert "Not-A-Valid-Tag-From-Env" not in done.stdout + done.stderr
    assert done.returncode == 1, done.stdout + done.stderr


def test_the_same_project_with_only_the_first_file_misses_the_override(tmp_path: Path) -> None:
    root = project(tmp_path, {"base.yml": "services:\n  web:\n    image: nginx:1.27.3\n"})
    done = check(root, "-f", "base.yml", "--format", "json", "--fail-on", "medium")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PRIV-004" not in {f["rule"] for f in findings(done)}


def test_layout_rules_say_what_they_expect_and_count_the_project(tmp_path: Path) -> None:
    three_services = "services:\n" + "".join(
        f"  {name}:\n    image: nginx:1.27.3\n" for name in ("a", "b", "c")
    )
    # The layout rules are this platform's conventions: the project opts into them.
    root = project(
        tmp_path,
        {"docker-compose.yml": three_services, ".stackctl.toml": 'rule-set = "platform"\n'},
    )
    done = check(root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "expected them in infra/<NN>-<tier>/<service>/" in done.stdout  # ROOT-003
    assert "expected only include" in done.stdout  # ROOT-001
    rows = trace_rows(done.stdout)
    # Project rules judge the project once; service rules judge each of the three services.
    assert rows["ROOT-001"][-4:-2] == ["0/1", "1"], rows["ROOT-001"]
    assert rows["ROOT-003"][-4:-2] == ["0/1", "1"], rows["ROOT-003"]
    assert rows["ROOT-004"][-4] == "3/3"
    assert rows["PRIV-004"][-4] == "3/3"


def test_our_stack_counts_layout_rules_once_and_services_per_service() -> None:
    done = check(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = trace_rows(done.stdout)
    services = int(done.stdout.rsplit(" services in ", 1)[0].split()[-1])
    assert services > 1
    for rule_id, info in CATALOGUE.items():
        expected = {"project": "1/1", "service": f"{services}/{services}"}.get(info.scope)
        if expected is not None and rows[rule_id][-3:-1] == ["0", "0"]:
            assert rows[rule_id][-4] == expected, rows[rule_id]


def _finding(rule_id: str, subject: str, excepted: bool = False) -> Finding:
    info = CATALOGUE[rule_id]
    found = Finding(rule_id, info.requirement, info.severity, "", "m", info.hint, "f", 1, subject)
    return found.suppress("why (docs/adr/x.md)", "what") if excepted else found


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ([], ["1/1", "0", "0", "pass"]),
        ([_finding("HYG-004", "A"), _finding("HYG-004", "B")], ["0/1", "1", "0", "FAIL"]),
        ([_finding("HYG-004", "A", excepted=True)], ["0/1", "0", "1", "pass"]),
        (
            [_finding("HYG-004", "A", excepted=True), _finding("HYG-004", "B")],
            ["0/1", "1", "0", "FAIL"],
        ),
    ],
)
def test_a_project_rule_row_adds_up_to_one_project(
    found: list[Finding], expected: list[str]
) -> None:
    trace = traceability_table(found, [CATALOGUE["HYG-004"]], services=9)
    assert trace_rows("Spec traceability\n" + trace)["HYG-004"][-4:] == expected


def test_a_service_rule_row_counts_services() -> None:
    info = CATALOGUE["PRIV-004"]
    open_ = Finding("PRIV-004", info.requirement, info.severity, "web", "m", info.hint, "f", 1)
    trace = traceability_table([open_], [info], services=9)
    assert trace_rows("Spec traceability\n" + trace)["PRIV-004"][-4:] == ["8/9", "1", "0", "FAIL"]


def test_validate_stays_strict_and_quotes_the_warning(tmp_path: Path) -> None:
    root = project(tmp_path, {"docker-compose.yml": SINGLE_FILE})
    done = subprocess.run(
        [SCRIPT, "validate", "--project-dir", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VAL-OPT-001" in done.stdout and "FAIL" in done.stdout
    assert "the attribute `version` is obsolete" in done.stdout
