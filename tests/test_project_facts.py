"""ProjectFacts reads a project in any layout: one file, several -f files, an include tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from checks.catalogue import model_rules
from checks.evaluator import run_rules
from checks.stack import ProjectFacts

COMPOSE = str(Path(sys.executable).parent / "docker-compose")


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def compose_services(root: Path, *files: str) -> set[str]:
    """What compose itself loads, to hold the reader to the same answer."""
    args = [arg for name in files for arg in ("-f", name)]
    done = subprocess.run(
        [COMPOSE, "--project-directory", str(root), *args, "config", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout)["services"])


def test_a_single_compose_yaml_is_found_like_compose_finds_it(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: busybox:1.37.0\n"})
    facts = ProjectFacts.read(tmp_path)
    assert facts.root_name == "compose.yaml" and facts.loaded == ("compose.yaml",)
    assert facts.source("web") == ("compose.yaml", 2)
    assert set(facts.sources) == compose_services(tmp_path)


def test_several_files_are_one_unit_and_the_first_is_the_root(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "base.yml": "services:\n  web:\n    image: busybox:1.37.0\n",
            "prod.yml": "services:\n  web:\n    init: true\n  extra:\n    image: busybox:1.37.0\n",
        },
    )
    facts = ProjectFacts.read(tmp_path, ["base.yml", "prod.yml"])
    assert facts.given == ("base.yml", "prod.yml") and facts.root_name == "base.yml"
    assert set(facts.sources) == compose_services(tmp_path, "base.yml", "prod.yml")
    assert facts.source("web") == ("base.yml", 2) and facts.source("extra") == ("prod.yml", 4)
    assert {d.unit for d in facts.declarations["web"]} == {0}  # an override, not a conflict


INCLUDE_TREE = {
    "docker-compose.yml": (
        "include:\n"
        "  - infra/a/docker-compose.yml\n"  # short form
        "  - path: infra/b/docker-compose.yml\n"  # long form, one path
        "  - path: [infra/c/docker-compose.yml, infra/c/override.yml]\n"  # long form, a list
    ),
    "infra/a/docker-compose.yml": "services:\n  a:\n    image: busybox:1.37.0\n",
    "infra/b/docker-compose.yml": (
        "include: [../d/docker-compose.yml]\nservices:\n  b:\n    image: busybox:1.37.0\n"
    ),
    "infra/c/docker-compose.yml": "services:\n  c:\n    image: busybox:1.37.0\n",
    "infra/c/override.yml": "services:\n  c:\n    init: true\n",
    "infra/d/docker-compose.yml": "services:\n  d:\n    image: busybox:1.37.0\n",
    "infra/orphan/docker-compose.yml": "services:\n  orphan:\n    image: busybox:1.37.0\n",
}


def test_an_include_tree_is_followed_in_every_form_and_recursively(tmp_path: Path) -> None:
    write(tmp_path, INCLUDE_TREE)
    facts = ProjectFacts.read(tmp_path)
    assert set(facts.sources) == compose_services(tmp_path) == {"a", "b", "c", "d"}
    assert facts.source("d") == ("infra/d/docker-compose.yml", 2)
    assert set(facts.included) == set(INCLUDE_TREE) - {
        "docker-compose.yml",
        "infra/orphan/docker-compose.yml",
    }
    assert "infra/orphan/docker-compose.yml" in facts.unloaded  # seen by name, not loaded
    assert "infra/orphan/docker-compose.yml" not in facts.loaded
    assert {d.file for d in facts.declarations["c"]} == {
        "infra/c/docker-compose.yml",
        "infra/c/override.yml",
    }
    assert len({d.unit for d in facts.declarations["c"]}) == 1


def test_layout_rules_say_what_they_expect_on_a_foreign_layout(tmp_path: Path) -> None:
    write(tmp_path, INCLUDE_TREE)
    facts = ProjectFacts.read(tmp_path)
    stack = facts.stack({"services": {}}, ("*",))
    rules = model_rules()
    (orphan,) = run_rules(stack, [rules["ROOT-002"]])
    assert orphan.subject == "infra/orphan/docker-compose.yml"
    assert "not included by docker-compose.yml" in orphan.message
    single = write(tmp_path / "single", {"compose.yml": "services:\n  web: {image: x}\n"})
    stack = ProjectFacts.read(single).stack({"services": {}}, ("*",))
    (root,) = run_rules(stack, [rules["ROOT-001"]])
    assert root.source == "compose.yml" and "expected only include" in root.message


def test_includes_outside_the_project_remote_ones_and_cycles_are_not_followed(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    write(tmp_path, {"outside.yml": "services:\n  evil:\n    image: busybox:1.37.0\n"})
    write(
        project,
        {
            "docker-compose.yml": (
                "include:\n  - ../outside.yml\n  - git@github.com:org/repo.git\n"
                "  - oci://registry/x:1\n  - loop.yml\n"
            ),
            "loop.yml": "include: [docker-compose.yml]\nservices:\n  l:\n    image: x\n",
        },
    )
    facts = ProjectFacts.read(project)
    assert set(facts.sources) == {"l"}
    assert facts.loaded == ("docker-compose.yml", "loop.yml")


def test_broken_yaml_in_one_file_does_not_stop_reading(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "docker-compose.yml": "include: [a.yml, b.yml]\n",
            "a.yml": "services: [unclosed\n",
            "b.yml": "services:\n  b:\n    image: x\n",
        },
    )
    facts = ProjectFacts.read(tmp_path)
    assert set(facts.sources) == {"b"} and facts.compose_files["a.yml"] == {}


def test_env_example_is_read_when_present(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "compose.yml": "services:\n  w:\n    image: busybox:${TAG}\n",
            ".env.example": "TAG=1.37.0\n",
        },
    )
    facts = ProjectFacts.read(tmp_path)
    assert facts.env_example == {"TAG": "1.37.0"} and facts.variables == {"TAG": "compose.yml"}
