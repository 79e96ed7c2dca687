"""Every command, declared once: its name, doc, flags, parser and body.

A ``Command`` is what ``python -m stackctl``, the ``stackctl`` console script,
the invoke tasks and the nox sessions all use. ``parse`` turns raw flag values
into the command's frozen options object (all validation happens there, once,
and it never runs compose or asks the engine); ``run`` does the work and
returns an ``Outcome`` for the one reporter, failures included.

Commands are discovered: every module of this package except the helpers
declares ``COMMANDS`` (its ``Command`` objects) and ``ORDER`` (where they
stand in ``--help`` and ``--list``). Adding a command is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

from stackctl.commands.groups import Group
from stackctl.commands.options import Option, Raw
from stackctl.reporting import Outcome, ReportTo

OptionsT = TypeVar("OptionsT")

# Modules here that declare no command: the flag primitives and the shared groups.
HELPERS = frozenset({"options", "groups"})


def report_of(options: object) -> ReportTo:
    """Where a command's report goes: its report group's value, else a table on stdout."""
    report = getattr(options, "report", None)
    return report if isinstance(report, ReportTo) else ReportTo()


@dataclass(frozen=True)
class Command(Generic[OptionsT]):
    name: str  # dotted for namespaced tasks: "secrets.scaffold"
    doc: str  # first line is the summary shown by --list / --help
    # Its own flags and the groups it shares, in the order --help shows them.
    declared: tuple[Option | Group[Any], ...]
    parse: Callable[[Raw], OptionsT]
    run: Callable[[OptionsT], Outcome]
    report_to: Callable[[OptionsT], ReportTo] = report_of

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0]

    @property
    def options(self) -> tuple[Option, ...]:
        """Every flag, the groups' ones included."""
        flags: list[Option] = []
        for item in self.declared:
            flags.extend(item.options if isinstance(item, Group) else (item,))
        return tuple(flags)

    @property
    def groups(self) -> tuple[Group[Any], ...]:
        return tuple(item for item in self.declared if isinstance(item, Group))


def command_modules() -> list[ModuleType]:
    """Every command module of this package, in their declared ``ORDER`` (then by name)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in HELPERS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not hasattr(module, "COMMANDS") or not isinstance(getattr(module, "ORDER", None), int):
            raise TypeError(f"{module.__name__} declares no COMMANDS and ORDER")
        found.append(module)
    return sorted(found, key=lambda module: (module.ORDER, module.__name__))


def all_commands() -> dict[str, Command[Any]]:
    """Every command by name, in the order ``--help`` and ``--list`` show them."""
    commands: dict[str, Command[Any]] = {}
    for module in command_modules():
        for command in module.COMMANDS:
            if command.name in commands:
                raise ValueError(f"duplicate command {command.name}")
            commands[command.name] = command
    return commands


def commands_of(name: str) -> dict[str, Command[Any]] | None:
    """The commands of the one module a command name lives in (``secrets.scaffold`` in
    ``secrets``): what a process that runs one command needs to import. None when no
    such module declares that command (then ask ``all_commands``)."""
    module_name = name.partition(".")[0]
    if not module_name.isidentifier() or module_name in HELPERS or module_name.startswith("_"):
        return None
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError:
        return None
    declared = {command.name: command for command in getattr(module, "COMMANDS", ())}
    return declared if name in declared else None
