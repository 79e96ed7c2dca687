"""Every command, declared once: its name, doc, options, parser and body.

A ``Command`` is what ``python -m stackctl``, the ``stackctl`` console script,
the invoke tasks and the nox sessions all use. ``parse`` turns raw flag values
into the command's frozen options object (all validation happens there, once);
``run`` does the work and returns an ``Outcome`` for the one reporter.

Adding a command: write a module here that builds a ``Command`` and calls
``register``, then add the module name to ``MODULES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from stackctl.commands.options import Option, Raw
from stackctl.reporting import Outcome, ReportTo

OptionsT = TypeVar("OptionsT")

MODULES = (
    "validate",
    "check",
    "gate",
    "profiles",
    "operations",
    "runtime",
    "secrets",
    "loki",
    "swarm",
)


@dataclass(frozen=True)
class Command(Generic[OptionsT]):
    name: str  # dotted for namespaced tasks: "secrets.scaffold"
    doc: str  # first line is the summary shown by --list / --help
    options: tuple[Option, ...]
    parse: Callable[[Raw], OptionsT]
    run: Callable[[OptionsT], Outcome]
    report_to: Callable[[OptionsT], ReportTo] = lambda _options: ReportTo()

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0]


_REGISTRY: dict[str, Command[Any]] = {}


def register(command: Command[OptionsT]) -> Command[OptionsT]:
    if command.name in _REGISTRY:
        raise ValueError(f"duplicate command {command.name}")
    _REGISTRY[command.name] = command
    return command


def all_commands() -> dict[str, Command[Any]]:
    """Every command in declaration order (importing a module registers its commands)."""
    for module in MODULES:
        importlib.import_module(f"stackctl.commands.{module}")
    return dict(_REGISTRY)
