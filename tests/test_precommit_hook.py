"""The pre-commit hook runs `stackctl check` on the repository it is installed in."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, REPO

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow


def hook() -> dict:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (found,) = [h for h in hooks if h["id"] == "stackctl-check"]
    return found


def run_hook(repository: Path) -> subprocess.CompletedProcess[str]:
    """What pre-commit does for this hook: run its entry from the repository root."""
    argv = shlex.split(hook()["entry"])
    argv[0] = str(Path(sys.executable).parent / argv[0])  # the script installed with the package
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    return subprocess.run(argv, cwd=repository, capture_output=True, text=True, env=env)


def git_repository(tmp_path: Path) -> Path:
    repository = tmp_path / "repo"
    shutil.copytree(FIXTURES / "opsstack", repository)
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    return repository


def _break_web(repository: Path) -> None:
    web = repository / "infra" / "10-core" / "web" / "docker-compose.yml"
    web.write_text(
        web.read_text().replace(
            "    profiles: [core]\n", "    profiles: [core]\n    privileged: true\n"
        )
    )


def test_hook_matches_compose_files_and_not_everything() -> None:
    pattern = re.compile(hook()["files"])
    assert pattern.search("docker-compose.yml") and pattern.search("infra/a/b/compose.yaml")
    assert pattern.search(".env.example") and not pattern.search("README.md")
    assert hook()["pass_filenames"] is False  # the whole project is rendered, not single files


def test_hook_passes_a_clean_project_and_fails_a_broken_one(tmp_path: Path) -> None:
    repository = git_repository(tmp_path)
    clean = run_hook(repository)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    _break_web(repository)
    broken = run_hook(repository)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "PRIV-004" in broken.stdout and "Traceback" not in broken.stderr


def test_pre_commit_try_repo_installs_the_package_and_runs_the_hook(tmp_path: Path) -> None:
    """The real pre-commit: it pip-installs this repository (not editable) into its own
    environment, so the console script, the compose binary and the rule data all come
    from the installed package, as they do for another team's repository."""
    repository = git_repository(tmp_path)
    subprocess.run(["git", "-C", str(repository), "add", "-A"], check=True)
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "DOCKER_HOST": "unix:///nonexistent.sock",
    }
    try_repo = [
        str(Path(sys.executable).parent / "pre-commit"),
        "try-repo",
        str(REPO),
        "stackctl-check",
        "--all-files",
    ]
    run = lambda: subprocess.run(  # noqa: E731
        try_repo, cwd=repository, capture_output=True, text=True, env=env, timeout=900
    )
    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "stackctl check" in clean.stdout and "Passed" in clean.stdout

    _break_web(repository)
    broken = run()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout and "PRIV-004" in broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr
