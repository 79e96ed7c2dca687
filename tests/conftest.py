from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.compose import Compose, Project

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def stack_compose() -> Compose:
    """The project's own stack, rendered with .env.example as VAL-OPT-001 says."""
    return Compose(Project.at(REPO, ".env.example"))


@pytest.fixture
def copy_tree(tmp_path: Path):
    """Copy a fixture tree (or the repo's stack files) into tmp_path and return its path."""

    def _copy(source: Path, name: str = "stack") -> Path:
        target = tmp_path / name
        shutil.copytree(
            source,
            target,
            ignore=shutil.ignore_patterns(
                ".git", ".nox", "secrets", "tests", "*.egg-info", "__pycache__", ".*_cache"
            ),
        )
        return target

    return _copy
