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


SARIF_PACKAGE = "@microsoft/jest-sarif@1.0.0-beta.0"  # ships the SARIF 2.1.0 JSON schema


@pytest.fixture(scope="session")
def sarif_schema(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The official SARIF 2.1.0 schema, fetched from the npm registry at test time."""
    import json
    import subprocess
    import tarfile

    cache = Path.home() / ".cache" / "platform-stack" / "sarif"
    schema = cache / "package" / "lib" / "schemas" / "sarif-2.1.0-rtm.5.json"
    if not schema.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed to fetch the SARIF 2.1.0 schema")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "pack", SARIF_PACKAGE, "--silent", "--pack-destination", str(cache)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        with tarfile.open(cache / done.stdout.strip().splitlines()[-1]) as archive:
            archive.extractall(cache, filter="data")
    return json.loads(schema.read_text())
