"""Commands behind ``invoke`` tasks, nox sessions and ``python -m stackctl``.

Each command returns an exit code: 0 ok, 1 findings or failures, 2 usage or
environment error. User mistakes end in one line plus a hint, never a traceback.
"""

from __future__ import annotations

import functools
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

from checks.finding import Severity
from checks.registry import RuleInfo, all_rules
from checks.waivers import META_RULES
from stackctl import engine, loki, ops, report, secrets
from stackctl.compose import Compose, Project
from stackctl.errors import EnvironmentProblem, StackError, UsageError
from stackctl.model import render, require_known_profiles
from stackctl.ops import ops_project
from stackctl.policy import DEFAULT_SAMPLE, check_stack, settle_cross_check
from stackctl.profiles import ALL_PROFILES, parse_profiles
from stackctl.selections import Derivation, graph_rows
from stackctl.validate import exhaustive as exhaustive_selections
from stackctl.validate import render_exhaustive, render_results, validate

P = ParamSpec("P")
VALIDATION_ENV_FILE = ".env.example"


def guarded(command: Callable[P, int]) -> Callable[P, int]:
    """Turn StackError into its one-line message and exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return command(*args, **kwargs)
        except StackError as error:
            print(error.render(), file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper


@guarded
def validate_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    fmt: str = "table",
    output: str | None = None,
    env_file: str = VALIDATION_ENV_FILE,
    exhaustive: bool = False,
    seed: int | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> int:
    """VAL-OPT-001 and the VAL-OPT-002 matrix; exit 1 when any combination fails.

    ``exhaustive``: every non-empty profile selection, derived from one render.
    """
    report.check_format(fmt, ("table", "json", "junit"))
    compose = Compose(Project.at(project_dir, env_file))
    if exhaustive:
        if profiles:
            raise UsageError("--exhaustive covers every selection; drop --profiles")
        result = exhaustive_selections(compose, seed=seed, sample=sample)
        report.emit(render_exhaustive(result, fmt), output)
        settle_cross_check(result.run.cross_check, _say)
        return 1 if result.run.evaluation.failing(Severity.HIGH) else 0
    results = validate(compose, parse_profiles(profiles))
    report.emit(render_results(results, fmt), output)
    return 0 if all(r.ok for r in results) else 1


def _say(line: str) -> None:
    print(line, file=sys.stderr)


@guarded
def profiles_command(
    project_dir: str | Path = ".", fmt: str = "table", env_file: str = VALIDATION_ENV_FILE
) -> int:
    """The profile dependency graph: each profile, its services, what it needs and why."""
    report.check_format(fmt, ("table", "json"))
    compose = Compose(Project.at(project_dir, env_file))
    graph = Derivation(render(compose, [ALL_PROFILES])).graph()
    if fmt == "json":
        report.emit(
            report.to_json(
                {
                    "profiles": {p: list(graph.members[p]) for p in graph.profiles},
                    "always_on": list(graph.always_on),
                    "needs": [
                        {"profile": n.profile, "needs": n.needed, "because": n.because}
                        for n in graph.needs
                    ],
                }
            )
        )
    else:
        report.emit(report.table(graph_rows(graph), ["profile", "services", "needs", "because"]))
    return 0


def rule_catalogue() -> list[RuleInfo]:
    """Every model rule and registry rule, as reports and docs describe them."""
    return [*all_rules().values(), *META_RULES.values()]


@guarded
def check_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    fmt: str = "table",
    output: str | None = None,
    fail_on: str = "high",
    env_file: str = VALIDATION_ENV_FILE,
    seed: int | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> int:
    """Policy checks over the matrix; exit 1 when an open finding reaches ``fail_on``."""
    report.check_format(fmt)
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as error:
        raise UsageError(str(error)) from None
    compose = Compose(Project.at(project_dir, env_file))
    selection = parse_profiles(profiles)
    require_known_profiles(compose, selection)
    run = check_stack(compose, selection, seed=seed, sample=sample)
    settle_cross_check(run.cross_check, _say)
    evaluation = run.evaluation
    failing = evaluation.failing(threshold)
    rules = rule_catalogue()
    if fmt == "json":
        text = report.findings_json(evaluation.findings, evaluation.combinations, not failing)
    elif fmt == "sarif":
        text = report.findings_sarif(evaluation.findings, rules)
    elif fmt == "junit":
        text = report.findings_junit(evaluation.findings, rules)
    else:
        suppressed = len(evaluation.findings) - len(evaluation.open_findings)
        text = (
            report.findings_table(evaluation.findings)
            + "\n\nSpec traceability\n"
            + report.traceability_table(evaluation.findings, rules, len(evaluation.services))
            + f"\n\n{len(evaluation.services)} services in {len(evaluation.combinations)} "
            f"combinations: {len(evaluation.open_findings)} open findings "
            f"({len(failing)} at or above {threshold.label}), {suppressed} excepted"
        )
    report.emit(text, output)
    return 1 if failing else 0


# -- operations -------------------------------------------------------------------


def _ops_compose(project_dir: str | Path, env_file: str | None) -> Compose:
    return Compose(ops_project(project_dir, env_file))


@guarded
def up_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    wait_timeout: int = 180,
    down_on_failure: bool = False,
    env_file: str | None = None,
) -> int:
    """Preflight, then start the selection and wait until it is healthy."""
    compose = _ops_compose(project_dir, env_file)
    return ops.up(compose, profiles, wait_timeout=wait_timeout, down_on_failure=down_on_failure)


@guarded
def down_command(
    project_dir: str | Path = ".",
    profiles: Sequence[str] = (),
    volumes: bool = False,
    confirm: bool = False,
    env_file: str | None = None,
) -> int:
    compose = _ops_compose(project_dir, env_file)
    return ops.down(compose, profiles, volumes=volumes, confirm=confirm)


@guarded
def ps_command(project_dir: str | Path = ".", env_file: str | None = None) -> int:
    rows = ops.ps_rows(_ops_compose(project_dir, env_file))
    headers = ["service", "profile", "state", "health", "ports"]
    report.emit(report.table(rows, headers) if rows else "no containers")
    return 0


@guarded
def logs_command(
    project_dir: str | Path = ".",
    service: str | None = None,
    follow: bool = False,
    tail: int = 100,
    env_file: str | None = None,
) -> int:
    status = ops.stream_logs(_ops_compose(project_dir, env_file), service, follow=follow, tail=tail)
    return 0 if status in (0, -15) else 1


@guarded
def secrets_command(
    project_dir: str | Path = ".",
    check: bool = False,
    rotate: str | None = None,
    yes: bool = False,
    fix: bool = False,
    env_file: str | None = None,
) -> int:
    """Create missing secret files (or check, fix modes, rotate one); never print values."""
    compose = _ops_compose(project_dir, env_file)
    specs = secrets.specs_from_model(render(compose, ["*"]).data)
    if rotate:
        if not yes:
            raise UsageError(
                f"rotating {rotate} replaces its value; services using it need a restart",
                hint=f"repeat with --rotate {rotate} --yes",
            )
        statuses = [secrets.rotate(specs, rotate)]
    else:
        statuses = secrets.scaffold(specs, check=check, fix=fix)
    base = compose.project.directory
    rows = [
        (
            s.spec.name,
            s.spec.path.relative_to(base) if base in s.spec.path.parents else s.spec.path,
            s.spec.kind or "-",
            s.status,
        )
        for s in statuses
    ]
    report.emit(report.table(rows, ["secret", "path", "kind", "status"]))
    bad = [s for s in statuses if not s.ok]
    if bad and not check:
        print(
            "hint: --fix tightens modes and owners; add a kind to x-secret-generators for"
            " secrets without one",
            file=sys.stderr,
        )
    return 1 if bad else 0


@guarded
def loki_preflight_command(
    project_dir: str | Path = ".", profiles: Sequence[str] = (), env_file: str | None = None
) -> int:
    """Is the Loki driver usable for this selection? Prints the fix when it is not."""
    compose = _ops_compose(project_dir, env_file)
    client = engine.client()
    selection = ops.select(compose, profiles)
    model = selection.model.data
    running = any(
        c.get("Service") == "loki" and c.get("State") == "running"
        for c in ops.containers(compose, selection.profiles)
    )
    results = [
        loki.plugin_check(client, loki.loki_services(model)),
        loki.options_check(model),
        loki.reachability_check(loki.loki_url(model), running),
    ]
    rows = [(r.name, "ok" if r.ok else "FAIL", r.detail) for r in results]
    report.emit(report.table(rows, ["check", "result", "detail"]))
    for result in results:
        if not result.ok and result.hint:
            print(f"hint: {result.hint}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


@guarded
def loki_install_command(dry_run: bool = False) -> int:
    """Install the pinned Loki driver plugin under the alias the stack expects."""
    say = functools.partial(print, file=sys.stderr)
    if dry_run:
        print(loki.INSTALL_COMMAND)
        return 0
    engine.client()  # one clear line when no engine answers
    say(f"running: {loki.INSTALL_COMMAND}")
    done = subprocess.run(shlex.split(loki.INSTALL_COMMAND), stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise EnvironmentProblem(
            "the plugin install failed (is the registry reachable?)", hint=loki.FALLBACK_HINT
        )
    return 0
