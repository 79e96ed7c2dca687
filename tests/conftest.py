from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from stackctl.project.compose import Compose, Project

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The fast tier (`-m "not slow"`, `nox -s fast`) needs no engine and never renders
# this repository's whole stack. A test is slow when it asks for the engine or for
# the stack, or when its module says so (`pytestmark = pytest.mark.slow`).
SLOW_FIXTURES = frozenset({"docker_engine", "test_image", "stack_compose"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("engine") or uses & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


def _slow_command(argv: object) -> str | None:
    """Why a child process does not belong in the fast tier, or None when it does."""
    words = [str(word) for word in argv] if isinstance(argv, list | tuple) else [str(argv)]
    if words and Path(words[0]).name.startswith(("python", "stackctl", "invoke", "pre-commit")):
        return "starts a Python entry point (stackctl, invoke, pre-commit)"
    if words and Path(words[0]).name == "docker":
        return "talks to the engine"
    if "--project-directory" in words:
        directory = Path(words[words.index("--project-directory") + 1]).resolve()
        if directory == REPO:
            return "renders this repository's whole stack"
    return None


_running: list[pytest.Item] = []  # the test being set up or run, for the guard below


def pytest_runtest_setup(item: pytest.Item) -> None:
    _running[:] = [item]


def pytest_configure(config: pytest.Config) -> None:
    """In the fast tier, a test that starts a slow child fails and says to mark it slow.

    Checked at the child's start, so module fixtures that run commands are caught too.
    """
    # Module and session fixtures render before a test's own cache dir is set
    # (own_render_cache): they too must never write to the user's cache.
    session_cache = tempfile.mkdtemp(prefix="stackctl-test-cache-")
    config.add_cleanup(lambda: shutil.rmtree(session_cache, ignore_errors=True))
    os.environ["STACKCTL_CACHE_DIR"] = session_cache
    if "not slow" not in (config.getoption("markexpr") or ""):
        return
    original = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        reason = _slow_command(args)
        if reason is not None and _running and not _running[0].get_closest_marker("slow"):
            pytest.fail(f"this test {reason}: mark it @pytest.mark.slow", pytrace=False)
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def own_render_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test its own render cache (stackctl.project.render_store), empty at its start:
    no test reads the user's cache or another test's renders, so a test that counts
    renders counts compose processes. Children inherit it through the environment."""
    folder = tmp_path_factory.mktemp("render-cache") / "stackctl"
    monkeypatch.setenv("STACKCTL_CACHE_DIR", str(folder))
    return folder


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


# -- engine fixtures --------------------------------------------------------------

OPS_FIXTURE = FIXTURES / "opsstack"


def _engine_answers() -> bool:
    import docker
    from docker.errors import DockerException

    try:
        docker.from_env(timeout=5).ping()
    except DockerException:
        return False
    return True


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine, started the way .ci/run starts it when none answers."""
    import os
    import subprocess

    import docker

    if not _engine_answers():
        if os.geteuid() != 0:
            pytest.skip("no Docker engine answers and tests are not root to start one")
        done = subprocess.run(
            [str(REPO / "scripts" / "ensure-dockerd.sh")], capture_output=True, text=True
        )
        if done.returncode != 0 or not _engine_answers():
            pytest.skip(f"could not start a Docker engine: {done.stderr.strip()[-300:]}")
    return docker.from_env(timeout=30)


@pytest.fixture(scope="session")
def test_image(docker_engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """FROM scratch + Debian's static busybox: sh, wget, httpd, nc; built in about a second.

    Built by the same code the smoke command uses, so the two never differ.
    """
    from stackctl.errors import StackError
    from stackctl.operating.smoke import ensure_fixture_image

    try:
        return ensure_fixture_image(docker_engine, tmp_path_factory.mktemp("image"))
    except StackError as problem:
        pytest.skip(str(problem))
