"""invoke tasks built from the command declarations (``tasks.py`` only calls ``namespace``).

Each task gets the command's options as flags, its doc as docstring and its
help texts; the body runs the command through the one exit-code runner.
Numbers are declared as text so invoke never converts (and tracebacks on) them.

invoke builds every task's flags on every call (``--list`` and ``up`` alike),
and the declarations live in modules that import compose, the reporters and
the rules. So the flags are kept in a small JSON file in the user's cache
(``STACKCTL_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackctl``), keyed by the
size and modification time of every source file of ``stackctl`` and
``checks`` (what Python's own bytecode cache trusts); a task's body imports
only its own command's module. Any change to a source file, or a missing or
unreadable file, means the declarations are imported and the file rewritten.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task

MANIFEST_VERSION = 2  # 2: no module names (a task finds its module from its name)
# Where the declarations' sources live: this package's and the rule library's folders.
_SOURCES = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "checks")


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str  # "flag" | "list" | "text" | "number" | ...
    help: str
    short: str | None = None


@dataclass(frozen=True)
class Declared:
    """What invoke needs of one command to list it and parse its flags."""

    name: str
    doc: str
    flags: tuple[Flag, ...]


class _Task(Task[Any]):
    """A task whose declared short flags (``-f``) are its own.

    Without them invoke reads ``-f`` after a task name as its own ``--config``
    and silently loads the compose file as invoke configuration.
    """

    def __init__(self, *args: Any, short_flags: dict[str, str], **kwargs: Any) -> None:
        self.short_flags = short_flags
        super().__init__(*args, **kwargs)

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = self.short_flags.get(name)
        if short is not None and short not in taken_names:
            opts["names"].append(short)
        return opts


def _default(kind: str) -> bool | None:
    return False if kind == "flag" else None


def _run_declared(declared: Declared, raw: dict[str, Any]) -> int:
    """Import the one module that declares the command, and run it under the contract."""
    from stackctl.commands import all_commands, commands_of
    from stackctl.edge.runner import debug_from_env, execute

    # The module comes from the command's name, never from the cache file: nothing read
    # back from disk chooses what is imported.
    command = (commands_of(declared.name) or all_commands())[declared.name]
    return execute(command, raw, debug=debug_from_env())


def task_for(declared: Declared) -> Task[Any]:
    def body(c: Context, **raw: Any) -> None:
        code = _run_declared(declared, raw)
        if code:
            raise Exit(code=code)

    parameters = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(
            flag.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=_default(flag.kind),
        )
        for flag in declared.flags
    ]
    body.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    body.__doc__ = declared.doc
    short_name = declared.name.rpartition(".")[2]
    body.__name__ = short_name.replace("-", "_")
    return _Task(
        body,
        short_flags={f.name: f.short for f in declared.flags if f.short},
        name=short_name,
        help={flag.name.replace("_", "-"): flag.help for flag in declared.flags},
        iterable=[flag.name for flag in declared.flags if flag.kind == "list"],
        auto_shortflags=False,
    )


# -- the declarations: imported, or read back from the cache ---------------------------------


def imported_declarations() -> list[Declared]:
    """Every command's declaration, from its module (imports every command module)."""
    from stackctl.commands import all_commands

    return [
        Declared(
            name,
            command.doc,
            tuple(Flag(o.name, o.kind, o.help, o.short) for o in command.options),
        )
        for name, command in all_commands().items()
    ]


def _source_files() -> Iterator[os.DirEntry[str]]:
    pending = [str(folder) for folder in _SOURCES]
    while pending:
        with contextlib.suppress(OSError), os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith((".", "_")):
                    pending.append(entry.path)
                elif entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                    yield entry


def sources_fingerprint() -> list[list[Any]]:
    """Path, size and modification time of every source file the declarations come from."""
    found = []
    for entry in _source_files():
        info = entry.stat(follow_symlinks=False)
        found.append([entry.path, info.st_size, info.st_mtime_ns])
    return sorted(found)


def manifest_path() -> Path:
    from stackctl.project.render_store import cache_directory  # the one cache folder rule

    base = cache_directory()
    # One file per checkout, so two working trees do not overwrite each other's.
    checkout = zlib.crc32(str(_SOURCES[0]).encode())
    return base / f"invoke-tasks-{checkout:08x}.json"


def _from_manifest(data: Any, fingerprint: list[list[Any]]) -> list[Declared] | None:
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return None
    if data.get("sources") != fingerprint:
        return None
    try:
        return [
            Declared(d["name"], d["doc"], tuple(Flag(*f) for f in d["flags"]))
            for d in data["commands"]
        ]
    except (KeyError, TypeError):
        return None


def _write_manifest(path: Path, declared: list[Declared], fingerprint: list[list[Any]]) -> None:
    """Replace the file in one step; a cache that cannot be written only costs speed."""
    data = {
        "version": MANIFEST_VERSION,
        "sources": fingerprint,
        "commands": [
            {
                "name": d.name,
                "doc": d.doc,
                "flags": [[f.name, f.kind, f.help, f.short] for f in d.flags],
            }
            for d in declared
        ],
    }
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".invoke-tasks-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream)
            Path(temporary).replace(path)
        except OSError:
            Path(temporary).unlink()
            raise


def declarations() -> list[Declared]:
    """The declarations from the cache when every source is unchanged, else imported."""
    fingerprint = sources_fingerprint()
    path = manifest_path()
    with contextlib.suppress(OSError, ValueError):
        cached = _from_manifest(json.loads(path.read_text(encoding="utf-8")), fingerprint)
        if cached is not None:
            return cached
    declared = imported_declarations()
    _write_manifest(path, declared, fingerprint)
    return declared


def namespace() -> Collection:
    """Top-level tasks plus one sub-collection per dotted prefix (``secrets``, ``loki``)."""
    root = Collection()
    groups: dict[str, Collection] = {}
    for declared in declarations():
        group, _, _ = declared.name.rpartition(".")
        task = task_for(declared)
        if not group:
            root.add_task(task)
            continue
        if group not in groups:
            groups[group] = Collection(group)
            root.add_collection(groups[group])
        groups[group].add_task(task)
    return root
