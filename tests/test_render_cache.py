"""The render cache: a warm static command starts no compose process, and a changed
byte in any file compose reads renders again (never a stale model).

Every compose call goes through a wrapper (``COMPOSE_BIN``) that logs its arguments
and runs the real binary, so a test counts real processes, ``version --short``
included. Each test has its own cache folder (conftest's ``own_render_cache``); the
compose binary is resolved again at each step, as a new process would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from stackctl.commands import all_commands
from stackctl.commands.check import CheckOutcome
from stackctl.commands.fix import FixOutcome
from stackctl.commands.groups import parse_project
from stackctl.project import binary as binary_module
from stackctl.project.compose import Compose
from stackctl.project.render import RenderOutcome, render_cache, render_outcome
from stackctl.project.render_store import RENDERS
from stackctl.reporting import Outcome

REAL_COMPOSE = Path(sys.executable).parent / "docker-compose"

# Every kind of file a render reads, each holding a value the model shows.
PROJECT = {
    "compose.yaml": """\
include:
  - path: inc/compose.yaml
    env_file: inc/inc.env
services:
  web:
    extends: {file: templates.yml, service: base}
    image: "busybox:${WEB_TAG}"
    profiles: [front]
    env_file: web.env
""",
    "templates.yml": """\
services:
  base:
    labels: {template: "t1"}
""",
    "web.env": "FROM_ENV_FILE=e1\n",
    ".env.example": "WEB_TAG=1.31\n",
    "inc/compose.yaml": """\
services:
  db:
    image: "postgres:${DB_TAG}"
    profiles: [back]
    labels: {included: "i1"}
""",
    "inc/inc.env": "DB_TAG=16.1\n",
}
# file -> (the byte sequence to change, its replacement of the same length, how the
# model shows the new value)
CHANGES = {
    "root file": ("compose.yaml", "front]", "fronT]", lambda m: m["services"]["web"]["profiles"]),
    "included file": (
        "inc/compose.yaml",
        '"i1"',
        '"i2"',
        lambda m: m["services"]["db"]["labels"]["included"],
    ),
    "extends template": (
        "templates.yml",
        '"t1"',
        '"t2"',
        lambda m: m["services"]["web"]["labels"]["template"],
    ),
    "env_file": (
        "web.env",
        "e1",
        "e2",
        lambda m: m["services"]["web"]["environment"]["FROM_ENV_FILE"],
    ),
    "env file": (".env.example", "1.31", "1.32", lambda m: m["services"]["web"]["image"]),
    "include's env_file": ("inc/inc.env", "16.1", "16.2", lambda m: m["services"]["db"]["image"]),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The log of every compose process from here on (one line of arguments each)."""
    log = tmp_path / "compose-calls.log"
    wrapper = tmp_path / "compose-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{REAL_COMPOSE}" "$@"\n')
    wrapper.chmod(0o755)
    log.touch()
    monkeypatch.setenv("COMPOSE_BIN", str(wrapper))
    binary_module.default_binary.cache_clear()
    yield log
    binary_module.default_binary.cache_clear()


def taken(log: Path) -> list[str]:
    """The compose calls logged since the last look (and a fresh start for the next)."""
    lines = log.read_text().splitlines()
    log.write_text("")
    binary_module.default_binary.cache_clear()  # the next step resolves it anew
    return lines


def renders_in(lines: list[str]) -> list[str]:
    return [line for line in lines if " config " in f" {line} "]


def run(name: str, root: Path, **flags: Any) -> Outcome:
    declared = all_commands()[name]
    raw: dict[str, Any] = {o.name: (False if o.kind == "flag" else None) for o in declared.options}
    raw.update(project_dir=str(root), **flags)
    with render_cache():
        return declared.run(declared.parse(raw))


def render(root: Path, *, no_cache: bool = False) -> RenderOutcome:
    project = parse_project({"project_dir": str(root), "no_cache": no_cache}, "validation")
    return render_outcome(Compose(project), ("*",))


def entries(folder: Path) -> list[Path]:
    return sorted((folder / RENDERS).glob("*.json"))


def test_a_warm_check_starts_no_compose_process(project: Path, calls: Path) -> None:
    cold = run("check", project)
    assert isinstance(cold, CheckOutcome)
    first = taken(calls)
    assert any("version --short" in line for line in first)
    # the full render and the seeded sample's render
    assert len(renders_in(first)) == 2, first
    warm = run("check", project)
    assert taken(calls) == []  # not even `compose version`
    assert isinstance(warm, CheckOutcome)
    assert warm.exit_code == cold.exit_code
    assert warm.as_data() == cold.as_data()


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_one_byte_change_to_any_input_renders_again(
    kind: str, project: Path, calls: Path
) -> None:
    name, old, new, shown = CHANGES[kind]
    before = render(project)
    assert before.model is not None, before.error
    assert renders_in(taken(calls))
    assert render(project) == before
    assert taken(calls) == []  # unchanged: served from the cache
    path = project / name
    path.write_text(path.read_text().replace(old, new, 1))
    after = render(project)
    assert renders_in(taken(calls)), f"a changed {kind} must render again"
    assert after.model is not None, after.error
    assert shown(after.model.data) != shown(before.model.data)
    assert new.strip('"]') in str(shown(after.model.data))
    assert render(project) == after
    assert taken(calls) == []


def test_a_changed_input_renders_the_full_model_and_the_sample_again(
    project: Path, calls: Path
) -> None:
    run("check", project)
    assert len(renders_in(taken(calls))) == 2
    run("check", project)
    assert taken(calls) == []
    (project / "inc/inc.env").write_text("DB_TAG=16.3\n")
    changed = run("check", project)
    assert isinstance(changed, CheckOutcome)
    rendered = renders_in(taken(calls))
    assert any("--profile *" in line for line in rendered)
    assert any("--profile *" not in line for line in rendered), "the sample renders too"


def test_no_cache_renders_and_stores_nothing(
    project: Path, calls: Path, own_render_cache: Path
) -> None:
    run("check", project)
    taken(calls)
    stored = {path: path.read_bytes() for path in entries(own_render_cache)}
    run("check", project, no_cache=True)
    rendered = renders_in(taken(calls))
    assert rendered and any("--profile *" in line for line in rendered)
    assert {path: path.read_bytes() for path in entries(own_render_cache)} == stored
    run("check", project)
    assert taken(calls) == []


def test_a_corrupt_or_foreign_entry_is_a_miss(
    project: Path, calls: Path, own_render_cache: Path
) -> None:
    good = render(project)
    taken(calls)
    stored = [p for p in entries(own_render_cache) if b'"profiles"' in p.read_bytes()]
    assert len(stored) == 1
    for garbage in (b"", b'{"key": "', b'{"key": "0", "value": {}}', b"\xff\xfe"):
        stored[0].write_bytes(garbage)
        assert render(project) == good
        assert renders_in(taken(calls))
    assert render(project) == good  # the entry was written again
    assert taken(calls) == []


def test_a_symlinked_cache_folder_is_never_used(
    project: Path, calls: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "cache-link"
    link.symlink_to(elsewhere)
    monkeypatch.setenv("STACKCTL_CACHE_DIR", str(link))
    first = render(project)
    second = render(project)
    assert first == second and first.ok
    assert len(renders_in(taken(calls))) == 2  # the cache is off: both render
    assert list(elsewhere.iterdir()) == []
    assert "is a symlink" in capsys.readouterr().err
    # the same for the renders folder inside a real cache folder
    real = tmp_path / "real-cache"
    real.mkdir()
    (real / RENDERS).symlink_to(elsewhere)
    monkeypatch.setenv("STACKCTL_CACHE_DIR", str(real))
    render(project)
    render(project)
    assert len(renders_in(taken(calls))) == 2
    assert list(elsewhere.iterdir()) == []


def test_the_cache_is_private(project: Path, calls: Path, own_render_cache: Path) -> None:
    render(project)
    assert stat.S_IMODE(own_render_cache.stat().st_mode) == 0o700
    assert stat.S_IMODE((own_render_cache / RENDERS).stat().st_mode) == 0o700
    stored = entries(own_render_cache)
    assert stored
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in stored)
    assert not [p for p in (own_render_cache / RENDERS).iterdir() if p.suffix != ".json"]


def test_fix_apply_proves_its_edits_with_fresh_renders(
    copy_tree, calls: Path, own_render_cache: Path
) -> None:
    project = copy_tree(FIXTURES / "fix" / "single", "single")
    run("check", project)
    taken(calls)
    planned = run("fix", project)
    assert isinstance(planned, FixOutcome) and planned.plan is not None
    assert planned.plan.proposals
    assert taken(calls) == []  # the plan's check is warm
    applied = run("fix", project, apply=True)
    assert isinstance(applied, FixOutcome) and applied.applied
    assert applied.proven is not None and not applied.proven.refused
    assert renders_in(taken(calls)), "the proof renders the edited files"
    again = run("fix", project)
    assert isinstance(again, FixOutcome) and again.plan is not None
    assert not again.plan.proposals


@pytest.mark.slow
def test_a_second_check_process_starts_no_compose(project: Path, calls: Path) -> None:
    env = {**os.environ}
    argv = [sys.executable, "-m", "stackctl", "check", "--project-dir", str(project)]
    for _ in range(2):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode in (0, 1), done.stderr
    lines = calls.read_text().splitlines()
    assert len(renders_in(lines)) == 2, lines  # both from the first process
    assert sum("version --short" in line for line in lines) == 1, lines
