"""``profiles``: the profile dependency graph, derived from one full render.

The same derivation closes ``invoke up --profiles`` over the profiles it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.commands import Command, register
from stackctl.commands import options as opt
from stackctl.project.compose import Compose, Project
from stackctl.project.profiles import ALL_PROFILES
from stackctl.project.render import render
from stackctl.project.selections import Derivation, ProfileGraph, graph_rows
from stackctl.reporting import Outcome, ReportTo, table

FORMATS = ("table", "json")

OPTIONS = (
    opt.Option("format", "text", "table (default) or json", default="table"),
    opt.Option("output", "text", "write the report to this file instead of stdout"),
    *opt.project_options(opt.VALIDATION_ENV_HELP),
)


@dataclass(frozen=True)
class ProfilesOptions:
    project: Project
    report: ReportTo


def parse(raw: opt.Raw) -> ProfilesOptions:
    report = ReportTo(opt.choice(raw, "format", FORMATS, "table"), opt.output_path(raw))
    return ProfilesOptions(opt.project(raw, "validation"), report)


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


COMMAND = register(
    Command(
        "profiles",
        "Profile dependency graph: each profile, its services, the profiles it needs and why.",
        OPTIONS,
        parse,
        run,
        lambda options: options.report,
    )
)
