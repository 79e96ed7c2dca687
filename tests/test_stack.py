"""The hardened stack itself (issue: seven profiles behind one root-only entrypoint)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from checks.rules._shared import is_one_shot_job
from checks.stack import Stack
from conftest import REPO
from stackctl.project.profiles import SEVEN_PROFILES, VALIDATION_MATRIX, profile_dependencies
from stackctl.project.render import render


@pytest.fixture(scope="module")
def full(stack_compose):
    return render(stack_compose, ["*"])


def test_at_least_18_services_in_all_seven_profiles(full) -> None:
    owners = Counter(p for s in full.services.values() for p in s["profiles"])
    assert len(full.services) >= 18
    assert set(owners) == set(SEVEN_PROFILES)
    assert all(count >= 2 for count in owners.values())
    assert all(len(s["profiles"]) == 1 for s in full.services.values())


def test_every_service_is_hardened(full) -> None:
    stack = Stack(model=full.data)
    for name, spec in full.services.items():
        assert "ALL" in spec["cap_drop"], name
        assert "no-new-privileges:true" in spec["security_opt"], name
        assert spec["init"] is True, name
        assert "ipv4_address" not in str(spec.get("networks")), name
        if not is_one_shot_job(stack, name):
            limits = spec["deploy"]["resources"]["limits"]
            assert limits["memory"] and limits["cpus"] and limits["pids"], name
            assert spec["healthcheck"]["test"], name


def test_every_image_is_pinned_to_an_exact_tag(full) -> None:
    for name, spec in full.services.items():
        image = spec["image"]
        tag = image.rsplit(":", 1)[1]
        assert tag not in {"latest", "main"} and re.search(r"\d+\.\d+|\d{4}-\d{2}", tag), name


def test_templates_are_extended_not_repeated() -> None:
    for path in REPO.glob("infra/*/*/docker-compose.yml"):
        for name, spec in yaml.safe_load(path.read_text())["services"].items():
            assert spec["extends"]["file"].endswith("common-optimizations.yml"), (path, name)
            assert "cap_drop" not in spec and "security_opt" not in spec, (path, name)


@pytest.mark.parametrize("profiles", [("core",), *[c.profiles for c in VALIDATION_MATRIX]])
def test_each_selection_stands_on_its_own(stack_compose, profiles) -> None:
    model = render(stack_compose, profiles)  # strict: a warning would raise
    for name, spec in model.services.items():
        for dep in spec.get("depends_on") or {}:
            assert dep in model.services, f"{name} needs {dep} outside {profiles}"


def test_profile_dependencies_are_the_documented_ones(full) -> None:
    assert profile_dependencies(full.services) == {"workflow": {"data"}, "tooling": {"data"}}


def test_env_example_defines_every_variable_with_a_comment() -> None:
    lines = (REPO / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[index - 1].startswith("#"), f"{line} lacks a comment"
