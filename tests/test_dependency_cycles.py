"""HEALTH-004 walks ``depends_on`` without recursion: any depth, each cycle once."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from checks.rules.health import dependency_cycles
from checks.stack import Stack


def _stack(edges: dict[str, list[str]]) -> Stack:
    services: dict[str, Any] = {
        name: {"image": "example/app:1.0.0", "depends_on": {dep: {} for dep in deps}}
        for name, deps in edges.items()
    }
    return Stack(model={"services": services})


def _messages(edges: dict[str, list[str]]) -> list[str]:
    return [hit.message for hit in dependency_cycles(_stack(edges))]


def test_a_chain_deeper_than_pythons_recursion_limit_is_walked() -> None:
    names = [f"s{i:05d}" for i in range(5000)]
    chain = {name: [after] for name, after in pairwise(names)}
    chain[names[-1]] = []
    assert _messages(chain) == []
    chain[names[-1]] = [names[0]]  # close it: one cycle through all 5,000
    (message,) = _messages(chain)
    assert message.startswith("dependency cycle: s00000 -> s00001 -> ")
    assert message.endswith(" -> s04999 -> s00000")


def test_each_cycle_is_reported_once_from_where_the_walk_meets_it() -> None:
    edges = {
        "a": ["b"],
        "b": ["c", "d"],
        "c": ["a"],  # a -> b -> c -> a
        "d": ["e", "missing"],  # a dependency compose would refuse is not ours to judge
        "e": ["d"],  # d -> e -> d
        "f": ["f"],  # a service waiting for itself
        "g": ["a"],  # leads into a cycle already reported: nothing new
    }
    assert _messages(edges) == [
        "dependency cycle: a -> b -> c -> a",
        "dependency cycle: d -> e -> d",
        "dependency cycle: f -> f",
    ]


def test_a_diamond_is_no_cycle() -> None:
    assert _messages({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}) == []
