"""invoke tasks built from the command declarations (``tasks.py`` only calls ``namespace``).

Each task gets the command's options as flags, its doc as docstring and its
help texts; the body runs the command through the one exit-code runner.
Numbers are declared as text so invoke never converts (and tracebacks on) them.
"""

from __future__ import annotations

import inspect
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task

from stackctl.commands import Command, all_commands
from stackctl.edge.runner import debug_from_env, execute


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


def task_for(command: Command[Any]) -> Task[Any]:
    def body(c: Context, **raw: Any) -> None:
        code = execute(command, raw, debug=debug_from_env())
        if code:
            raise Exit(code=code)

    parameters = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(
            option.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=_default(option.kind),
        )
        for option in command.options
    ]
    body.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    body.__doc__ = command.doc
    short_name = command.name.rpartition(".")[2]
    body.__name__ = short_name.replace("-", "_")
    return _Task(
        body,
        short_flags={o.name: o.short for o in command.options if o.short},
        name=short_name,
        help={option.name.replace("_", "-"): option.help for option in command.options},
        iterable=[option.name for option in command.options if option.kind == "list"],
        auto_shortflags=False,
    )


def namespace() -> Collection:
    """Top-level tasks plus one sub-collection per dotted prefix (``secrets``, ``loki``)."""
    root = Collection()
    groups: dict[str, Collection] = {}
    for name, command in all_commands().items():
        group, _, _ = name.rpartition(".")
        task = task_for(command)
        if not group:
            root.add_task(task)
            continue
        if group not in groups:
            groups[group] = Collection(group)
            root.add_collection(groups[group])
        groups[group].add_task(task)
    return root
