"""Locating keys is linear: one parse per file, whatever the number of services or findings.

Two kinds of tests. The index answers every lookup exactly as walking a freshly
composed node tree did (the reference below is that walk, kept as the oracle).
And the work of reading facts, locating warnings and of the whole ``check`` grows
no faster than the services of one file: counted as calls into this project's
code and PyYAML's (where a re-parse shows up, libyaml calls the resolver per
node), never timed, so a busy machine cannot make them flaky.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from checks.evaluator import evaluate
from checks.locate import Locator
from checks.stack import ProjectFacts
from checks.warnings import findings_from_warnings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from generate import generate  # noqa: E402

# 4x the services may cost at most this much more work: linear plus headroom for
# constant costs that differ (a quadratic cost grows about 16x).
LINEAR = 4.6


# -- the oracle: the walk key_line did on a freshly composed tree, per lookup ---------------


def _reference_child(node: yaml.Node, step: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and str(key.value) == step:
                return key, value
    if isinstance(node, yaml.SequenceNode):
        port = step.split("/")[0]
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and (
                item.value == step or item.value.split("/")[0].rsplit(":", 1)[-1] == port
            ):
                return item, item
            if isinstance(item, yaml.MappingNode):
                for key, value in item.value:
                    if (
                        isinstance(key, yaml.ScalarNode)
                        and key.value in {"source", "target"}
                        and isinstance(value, yaml.ScalarNode)
                        and str(value.value) in {step, port}
                    ):
                        return item, item
    return None


def pure_python_tree(text: str) -> yaml.Node | yaml.YAMLError | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return error


def reference_key_line(
    tree: yaml.Node | yaml.YAMLError | None, path: Sequence[str]
) -> tuple[int, int]:
    """key_line's walk; composing ``text`` once per file instead of per lookup changes
    nothing here, since composing never changes the tree it returned before."""
    if isinstance(tree, yaml.YAMLError):
        return 1, 0
    node, line, depth = tree, 1, 0
    for step in path:
        if node is None:
            break
        found = _reference_child(node, step)
        if found is None:
            break
        where, node = found
        line, depth = where.start_mark.line + 1, depth + 1
    return line, depth


def paths_of(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path a lookup can take into ``node``, plus a step that is not there."""
    yield (*prefix, "not-there")
    if len(prefix) > 8:
        return
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield (*prefix, key.value)
                yield from paths_of(value, (*prefix, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                side = item.value.split("/")[0].rsplit(":", 1)[-1]
                yield from [(*prefix, item.value), (*prefix, f"{side}/tcp"), (*prefix, side)]
            elif isinstance(item, yaml.MappingNode):
                for key, value in item.value:
                    if isinstance(value, yaml.ScalarNode) and key.value in {"source", "target"}:
                        yield (*prefix, value.value)
                        yield from paths_of(item, (*prefix, value.value))


CRAFTED = {
    "ports and long syntax": (
        "services:\n  web:\n    ports:\n      - '8080:80'\n      - 127.0.0.1:9443:443/udp\n"
        "      - target: 8000\n        published: 80\n    secrets:\n      - db\n"
        "      - source: api\n        target: /run/secrets/api\n        uid: '0'\n"
    ),
    "anchors, aliases and merge keys": (
        "x-base: &base\n  deploy:\n    labels: {a: b}\n  ports: ['80']\n"
        "services:\n  a:\n    <<: *base\n    image: a\n  b: *base\n"
    ),
    "duplicate keys: the first wins": "services:\n  a:\n    image: x\n  a:\n    init: true\n",
    "a flow mapping": "services: {web: {image: a, deploy: {labels: [x]}}}\n",
    "not YAML": "services:\n  web: [\n",
    "empty": "",
    "a scalar document": "just text\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "non-scalar keys": "? [a, b]\n: 1\nservices:\n  ? {x: 1}\n  : 2\n  web: {}\n",
    "a nested list": "services:\n  web:\n    command: [[a], b, {source: c}]\n",
}


def corpus() -> dict[str, str]:
    found = {
        path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8")
        for pattern in ("docker-compose.yml", "infra/**/*.yml", "tests/fixtures/**/*.yml")
        for path in sorted(REPO.glob(pattern))
        if "aliasbomb" not in path.parts
    }
    return {**found, **CRAFTED}


@pytest.mark.parametrize("name", sorted(corpus()))
def test_the_index_answers_as_a_fresh_walk_of_the_tree(name: str) -> None:
    text = corpus()[name]
    tree = pure_python_tree(text)
    locator = Locator.parse(text)
    root = None if isinstance(tree, yaml.YAMLError) else tree
    paths = [(), ("services",), ("services", "web", "ports", "80/tcp"), *paths_of(root)]
    for path in paths:
        assert locator.line(path) == reference_key_line(tree, path), path


def test_aliases_index_each_node_once() -> None:
    levels = ["a0: &a0 [x, y]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    locator = Locator.parse("\n".join(levels) + "\n")
    assert locator.line(["a11"]) == (12, 1)


def test_an_alias_bomb_or_a_file_over_the_depth_bound_locates_nothing() -> None:
    # Both are refused while composing (checks.locate.MAX_NODES, MAX_DEPTH): no crash,
    # no expansion; the facts reader ends the run on such a file (test_facts_bounds.py).
    levels = ["a0: &a0 [x, y]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    assert Locator.parse("\n".join(levels) + "\n").line(["a39"]) == (1, 0)
    text = "x: " + "[" * 3000 + "]" * 3000 + "\nservices:\n  web: {}\n"
    assert Locator.parse(text).line(["services", "web"]) == (1, 0)


def test_a_merge_key_does_not_move_lines_of_the_files_own_keys(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(CRAFTED["anchors, aliases and merge keys"])
    facts = ProjectFacts.read(tmp_path)
    assert facts.source("a") == ("compose.yaml", 6)
    assert facts.key_line("compose.yaml", ["services", "a", "deploy"]) == (6, 2)
    assert facts.key_line("compose.yaml", ["services", "b", "deploy", "labels"]) == (3, 4)
    assert facts.compose_files["compose.yaml"]["services"]["a"]["deploy"] == {"labels": {"a": "b"}}


# -- the work grows linearly ------------------------------------------------------------------


def work(function: Callable[[], object]) -> int:
    """Calls made while ``function`` runs in this thread: Python functions and builtins
    (a ``dict.get`` in a loop counts), so the count follows the work done and not the
    machine's speed or load."""
    profile = cProfile.Profile()
    profile.runcall(function)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return sum(calls for _, calls, *_ in stats.values())


def warnings_per_service(facts: ProjectFacts) -> list[str]:
    """Two compose warnings per service: a Swarm-only key, and a variable it names."""
    return [
        line
        for name in facts.sources
        for line in (
            f'time="x" level=warning msg="service \\"{name}\\": deploy.labels: '
            f'Swarm-only, ignored by compose"',
            f'WARN[0000] The "{name.upper()}_TAG" variable is not set. Defaulting to blank.',
        )
    ]


def stage_work(project: Path) -> dict[str, int]:
    """The work of each stage of a check that runs in Python, on one generated project."""
    facts = ProjectFacts.read(project)
    lines = warnings_per_service(facts)
    # the file's own services, unmerged: without ``restart`` each one asks whether it
    # is a one-shot job, which once meant looking at every other service
    stack = facts.stack(facts.root, ("*",))
    return {
        "read the facts": work(lambda: ProjectFacts.read(project)),
        "locate two warnings per service": work(lambda: findings_from_warnings(lines, facts, ())),
        "run the rules": work(lambda: evaluate([stack])),
    }


def test_facts_warnings_and_rules_of_one_file_cost_linear_work(tmp_path: Path) -> None:
    stage_work(generate(7, tmp_path / "warm", one_file=True))  # imports are not work
    small = stage_work(generate(100, tmp_path / "one-100", one_file=True))
    large = stage_work(generate(400, tmp_path / "one-400", one_file=True))
    growth = {stage: large[stage] / small[stage] for stage in small}
    assert max(growth.values()) <= LINEAR, f"100 -> 400 services: {small} -> {large} calls"


@pytest.mark.slow
def test_check_of_one_file_costs_linear_work(tmp_path: Path) -> None:
    from stackctl.checking.check_run import PolicyRun, check_stack
    from stackctl.project.compose import Compose, Project

    def check(services: int) -> int:
        project = generate(services, tmp_path / f"one-{services}", one_file=True)
        compose = Compose(Project.at(project, ".env.example"))
        runs: list[PolicyRun] = []
        calls = work(lambda: runs.append(check_stack(compose, seed=1)))
        assert len(runs[0].evaluation.services) == services
        return calls

    check(7)  # imports are not work
    small, large = check(100), check(400)
    assert large / small <= LINEAR, f"100 -> 400 services: {small} -> {large} calls"
