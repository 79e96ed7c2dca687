"""``profiles``: the profile dependency graph, derived from one full render.

The same derivation closes ``invoke up --profiles`` over the profiles it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.commands import Command
from stackctl.commands import options as opt
from stackctl.commands.groups import PROJECT_VALIDATION, report_group
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render
from stackctl.project.selections import Derivation, ProfileGraph, graph_rows
from stackctl.reporting import Outcome, ReportTo, table

ORDER = 40
REPORT = report_group("table", "json")


@dataclass(frozen=True)
class ProfilesOptions:
    project: Project
    report: ReportTo


def parse(raw: opt.Raw) -> ProfilesOptions:
    report = REPORT.parse(raw)
    return ProfilesOptions(PROJECT_VALIDATION.parse(raw), report)


@dataclass(frozen=True)
class ProfilesOutcome(Outcome):
    graph: ProfileGraph | None = None

    def as_table(self) -> str:
        if self.graph is None:
            return ""
        return table(graph_rows(self.graph), ["profile", "services", "needs", "because"])

    def as_data(self) -> Mapping[str, Any]:
        graph = self.graph
        if graph is None:
            return {}
        return {
            "profiles": {p: list(graph.members[p]) for p in graph.profiles},
            "always_on": list(graph.always_on),
            "needs": [
                {"profile": n.profile, "needs": n.needed, "because": [list(b) for b in n.because]}
                for n in graph.needs
            ],
        }


def run(options: ProfilesOptions) -> ProfilesOutcome:
    graph = Derivation(render(Compose(options.project), [ALL_PROFILES])).graph()
    return ProfilesOutcome("profiles", graph=graph)


COMMANDS = (
    Command(
        "profiles",
        "Profile dependency graph: each profile, its services, the profiles it needs and why.",
        (REPORT, PROJECT_VALIDATION),
        parse,
        run,
    ),
)
