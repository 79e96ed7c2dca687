"""Every selection derived from one full render, checked against real compose renders."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from cli import run, run_invoke, run_stackctl
from conftest import FIXTURES, REPO
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render, render_cache, render_outcome
from stackctl.project.selections import (
    Derivation,
    compare,
    cross_check,
    first_difference,
    pick_sample,
)

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

CROSS_PROFILE = FIXTURES / "selections" / "cross-profile"


@pytest.fixture(scope="module")
def fixture_derivation() -> tuple[Compose, Derivation]:
    compose = Compose(Project.at(CROSS_PROFILE, ".env.example"))
    return compose, Derivation(render(compose, ["*"]))


def test_every_selection_of_the_fixture_matches_a_real_render(fixture_derivation) -> None:
    compose, derivation = fixture_derivation
    selections = derivation.all_selections()
    assert len(selections) == 15  # four profiles
    result = cross_check(compose, derivation, selections, seed=0)
    assert result.agrees, [c for c in result.comparisons if not c.agrees]
    assert len(result.comparisons) == 15


def test_pruned_resources_follow_the_enabled_services(fixture_derivation) -> None:
    _, derivation = fixture_derivation
    model = derivation.model(derivation.select(("obs",))).data
    assert set(model["services"]) == {"metrics", "tools"}
    assert set(model["secrets"]) == {"metrics_token"}
    assert "volumes" not in model and "spare" not in model.get("networks", {})


def test_broken_cross_profile_dependency_names_service_and_missing_profile(
    fixture_derivation,
) -> None:
    _, derivation = fixture_derivation
    core = derivation.select(("core",))
    assert not core.valid
    assert core.reason == "app needs cache, which is in profile data, not selected"
    # `required: false` (app -> metrics) never makes a selection invalid
    assert derivation.select(("core", "data")).valid


def test_a_wrong_derivation_is_detected(fixture_derivation) -> None:
    compose, derivation = fixture_derivation
    selection = derivation.select(("data",))
    real = render_outcome(compose, ("data", "obs"))  # a different selection's real model
    comparison = compare(derivation, selection, real)
    assert not comparison.agrees
    assert comparison.detail.endswith(": only in the real render")


def test_first_difference_names_the_path() -> None:
    assert first_difference({"a": {"b": 1}}, {"a": {"b": 1}}) == ""
    assert first_difference({"a": {"b": 1}}, {"a": {"b": 2}}) == "a.b: derived '1', real '2'"


def test_the_same_seed_draws_the_same_sample() -> None:
    items = list(range(127))
    assert pick_sample(items, 3, 42) == pick_sample(items, 3, 42)
    assert len(set(pick_sample(items, 3, 42))) == 3
    assert pick_sample(items, 0, 42) == []


def test_render_cache_runs_each_distinct_render_once() -> None:
    compose = Compose(Project.at(CROSS_PROFILE, ".env.example"))
    with render_cache() as cache:
        first = render_outcome(compose, ("core", "data"))
        again = render_outcome(compose, ("core", "data"))
        render_outcome(compose, ("data",))
        assert first is again
        assert cache.renders == 2


# -- the commands, as processes ------------------------------------------------------------


def test_stack_exhaustive_lists_127_selections_and_the_cross_check_agrees() -> None:
    done = run_stackctl(
        REPO, "validate", "--exhaustive", "--format", "json", "--seed", "11", "--sample", "3"
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    result = json.loads(done.stdout)
    rows = {row["profiles"]: row for row in result["selections"]}
    assert len(rows) == 127
    assert rows["core,data,obs,ai,messaging,workflow,tooling"]["valid"]
    workflow = rows["workflow"]
    assert not workflow["valid"]
    assert "n8n needs valkey, which is in profile data, not selected" in workflow["reason"]
    comparisons = result["cross_check"]["comparisons"]
    assert result["cross_check"]["seed"] == 11 and len(comparisons) == 3
    assert all(c["agrees"] for c in comparisons)
    assert "cross-check (seed 11): derived and real renders agree" in done.stderr


def test_exhaustive_table_on_the_broken_fixture() -> None:
    done = run_stackctl(CROSS_PROFILE, "validate", "--exhaustive", "--seed", "3")
    assert "Traceback" not in done.stderr
    line = next(row for row in done.stdout.splitlines() if row.startswith("core "))
    assert "invalid" in line and "app needs cache, which is in profile data" in line
    assert "15 selections: 11 valid, 4 need a profile" in done.stdout


def test_exhaustive_refuses_profiles() -> None:
    done = run_stackctl(CROSS_PROFILE, "validate", "--exhaustive", "--profiles", "core")
    assert done.returncode == 2 and "--exhaustive" in done.stderr


def _lying_compose(tmp_path: Path) -> Path:
    """A compose wrapper whose render of exactly ``--profile data`` gains a key.

    The real compose never disagrees with the derivation (that is what the other
    tests show), so this stand-in is the only way to see the alarm go off.
    """
    real = Path(sys.executable).parent / "docker-compose"
    script = tmp_path / "lying-compose"
    script.write_text(
        f"""#!{sys.executable}
import json, subprocess, sys
args = sys.argv[1:]
done = subprocess.run([{str(real)!r}, *args], capture_output=True, text=True)
out = done.stdout
profiles = [args[i + 1] for i, a in enumerate(args) if a == "--profile"]
if profiles == ["data"] and "--format" in args:
    model = json.loads(out)
    model["x-only-here"] = True
    out = json.dumps(model)
sys.stdout.write(out)
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
"""
    )
    script.chmod(0o755)
    return script


def test_a_disagreement_fails_loudly_with_the_seed(tmp_path: Path) -> None:
    env = {**os.environ, "COMPOSE_BIN": str(_lying_compose(tmp_path))}
    args = ["-m", "stackctl", "--project-dir", str(CROSS_PROFILE), "check"]
    done = run([*args, "--seed", "5", "--sample", "15"], env=env)
    assert done.returncode == 1, done.stderr
    assert "DISAGREE" in done.stderr
    assert re.search(r"data: x-only-here: only in the real render", done.stderr)
    assert "--seed 5" in done.stderr and "Traceback" not in done.stderr


def test_invoke_profiles_prints_the_graph_with_reasons() -> None:
    done = run_invoke(REPO, "profiles")
    assert done.returncode == 0, done.stderr
    workflow = next(line for line in done.stdout.splitlines() if line.startswith("workflow "))
    assert "n8n, n8n-db-init, n8n-worker" in workflow
    assert re.search(r"\sdata\s+.*n8n -> valkey", workflow)
    core = next(line for line in done.stdout.splitlines() if line.startswith("core "))
    assert re.search(r"traefik\s+-\s+-$", core)


def test_gate_runs_validate_then_check_in_one_process() -> None:
    done = run_stackctl(REPO, "gate", "--seed", "2")
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr
    assert "6/6 combinations valid" in done.stdout
    assert "0 open findings" in done.stdout
    # the cross-check compares the VAL-OPT renders validate already made
    assert "core,data,obs,tooling" in done.stderr.split("agree for", 1)[1]


def test_gate_exhaustive_is_what_nox_validate_runs_with_the_flag() -> None:
    done = run_stackctl(CROSS_PROFILE, "gate", "--exhaustive", "--seed", "8", "--format", "json")
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert len(report["validate"]["selections"]) == 15
    assert report["check"]["combinations"]
    assert done.returncode == 1  # the fixture breaks the hardening rules on purpose
