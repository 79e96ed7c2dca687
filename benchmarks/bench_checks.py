"""Policy-check speed on a 60+ service stack, against compose-lint on the same stack.

    python benchmarks/bench_checks.py [--copies 3] [--repeat 15]

The real stack (21 services) is rendered once by compose; its services are
copied under new names until the stack has 63 or more. Both tools then check
that same merged model, in this process, after rendering:

- stackctl: ``checks.evaluator.evaluate`` on the model (all 33 rules + registry),
  also measured with parsing the JSON model included;
- baseline: compose-lint's ``check`` on the model written as one flat file.

Output is the median of ``--repeat`` runs each and the ratio stackctl/baseline,
both measured in this run, so machine speed cancels out. Render time is shown
for context only. Needs the ``bench`` extra (compose-lint).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checks.evaluator import evaluate  # noqa: E402
from checks.stack import ProjectFacts  # noqa: E402
from stackctl.project.compose import Compose, Project  # noqa: E402
from stackctl.project.render import render  # noqa: E402


def enlarge(model: dict[str, Any], copies: int) -> dict[str, Any]:
    """Copy every service ``copies`` times, renaming it and its dependencies."""
    big = copy.deepcopy(model)
    services: dict[str, Any] = {}
    for index in range(copies):
        suffix = "" if index == 0 else f"-{index}"
        for name, spec in model["services"].items():
            clone = copy.deepcopy(spec)
            if "depends_on" in clone:
                clone["depends_on"] = {
                    f"{dep}{suffix}": cond for dep, cond in clone["depends_on"].items()
                }
            clone.pop("container_name", None)
            if index:  # copies publish no ports: they would clash on the host
                clone.pop("ports", None)
            services[f"{name}{suffix}"] = clone
    big["services"] = services
    return big


def median_seconds(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def compose_lint_once(path: Path) -> None:
    from compose_lint.cli import main as compose_lint_main

    quiet = io.StringIO()
    # compose-lint always ends with SystemExit; its report is discarded.
    with (
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
        contextlib.suppress(SystemExit),
    ):
        compose_lint_main(
            ["check", "--format", "json", "--no-env", "--fail-on", "critical", str(path)]
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    compose = Compose(Project.at(REPO, ".env.example"))
    started = time.perf_counter()
    model = render(compose, ["*"])
    render_seconds = time.perf_counter() - started
    big = enlarge(model.data, args.copies)
    facts = ProjectFacts.read(REPO)
    stack = facts.stack(big, ("*",))

    with tempfile.TemporaryDirectory() as scratch:
        flat = Path(scratch) / "docker-compose.yml"
        flat.write_text(yaml.safe_dump(big, sort_keys=False))
        compose_lint_once(flat)  # warm imports
        evaluate([stack])
        ours = median_seconds(lambda: evaluate([stack]), args.repeat)
        # Fairer to the baseline, which parses its input: include parsing the JSON model.
        text = json.dumps(big)
        ours_parsed = median_seconds(
            lambda: evaluate([facts.stack(json.loads(text), ("*",))]), args.repeat
        )
        baseline = median_seconds(lambda: compose_lint_once(flat), args.repeat)

    result = {
        "services": len(big["services"]),
        "repeat": args.repeat,
        "render_seconds_once": round(render_seconds, 4),
        "stackctl_check_seconds": round(ours, 5),
        "stackctl_parse_and_check_seconds": round(ours_parsed, 5),
        "compose_lint_seconds": round(baseline, 5),
        "ratio_stackctl_to_compose_lint": round(ours / baseline, 3),
        "ratio_with_parsing": round(ours_parsed / baseline, 3),
        "under_one_second": ours < 1.0,
    }
    print(json.dumps(result, indent=2))
    return 0 if result["under_one_second"] else 1


if __name__ == "__main__":
    sys.exit(main())
