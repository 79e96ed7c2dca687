"""invoke's tasks come from the declarations, through a cache that can never go stale."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackctl.edge import invoke_tasks
from stackctl.edge.invoke_tasks import declarations, imported_declarations, manifest_path, namespace


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STACKCTL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def task_shapes(collection: Any) -> dict[str, Any]:
    """Each task as invoke parses and lists it: name, docstring, every flag's names and help."""
    shapes: dict[str, Any] = {}
    for name in collection.task_names:
        task = collection[name]
        arguments = sorted(
            (tuple(a.names), a.help, a.kind.__name__, repr(a.default)) for a in task.get_arguments()
        )
        shapes[name] = (task.__doc__, arguments)
    return shapes


def test_the_cached_tasks_are_the_declared_ones(cache: Path) -> None:
    first = namespace()  # imports the declarations and writes the cache
    assert manifest_path().is_file()
    second = namespace()  # from the cache
    assert task_shapes(second) == task_shapes(first)
    assert [d.name for d in declarations()] == [d.name for d in imported_declarations()]


def test_a_changed_source_file_rebuilds_the_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    module = sources / "module.py"
    module.write_text("A = 1\n")
    monkeypatch.setattr(invoke_tasks, "_SOURCES", (sources,))
    declarations()
    before = json.loads(manifest_path().read_text())["sources"]
    # One more byte; the modification time is set back, so only the size tells.
    stamp = module.stat().st_mtime_ns
    module.write_text("A = 12\n")
    os.utime(module, ns=(stamp, stamp))
    declarations()
    after = json.loads(manifest_path().read_text())["sources"]
    assert after != before and after[0][1] == len("A = 12\n")


def test_a_forged_cache_of_other_sources_is_not_trusted(cache: Path) -> None:
    declarations()
    path = manifest_path()
    data = json.loads(path.read_text())
    data["sources"] = [["/elsewhere.py", 1, 1]]
    data["commands"] = [{"name": "ghost", "doc": "none", "flags": []}]
    path.write_text(json.dumps(data))
    assert "ghost" not in [d.name for d in declarations()]


@pytest.mark.parametrize("content", ["", "{not json", '{"version": 1, "sources": []}', "[]"])
def test_a_broken_cache_file_costs_only_speed(cache: Path, content: str) -> None:
    cache.mkdir()
    manifest_path().write_text(content)
    assert [d.name for d in declarations()] == [d.name for d in imported_declarations()]


def test_an_unwritable_cache_costs_only_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("STACKCTL_CACHE_DIR", str(blocker / "cache"))
    assert [d.name for d in declarations()] == [d.name for d in imported_declarations()]


@pytest.mark.slow
def test_a_warm_task_list_imports_no_command_module(cache: Path) -> None:
    from cli import run

    namespace()  # warm the cache
    code = (
        "import sys, tasks; "
        "loaded = sorted(m for m in sys.modules if m.startswith(('stackctl.commands', 'checks.')));"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = run(["-c", code], env={**os.environ, "STACKCTL_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stdout + done.stderr
