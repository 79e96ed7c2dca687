"""Only files compose loads are parsed, each within its bounds; a failed full render
ends the run without any selection render after it (issues #17 item 10, #20)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import checks.compose_files as compose_files
from checks import exceptions
from checks.compose_files import COMPOSE_MAX_BYTES, InputRefused
from checks.image_facts import FACTS_MAX_BYTES
from checks.locate import MAX_DEPTH
from checks.stack import ProjectFacts, read_image_facts
from conftest import FIXTURES
from stackctl.checking.check_run import InputOverBound, check_stack
from stackctl.errors import RenderError
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render_cache

ROOT = 'services:\n  web:\n    image: "nginx:1.27.3"\n'


def counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every compose parse's text length; a text over 1 MiB fails at once (the old
    reader took some 28 s and 1.8 GB to parse 17 MB)."""
    sizes: list[int] = []
    parse: Callable[[str], Any] = compose_files.parse_compose_text

    def counted(text: str) -> Any:
        sizes.append(len(text))
        assert len(text) < 1024 * 1024, f"a {len(text):,}-character file was parsed"
        return parse(text)

    monkeypatch.setattr(compose_files, "parse_compose_text", counted)
    return sizes


def big_compose_file(path: Path, megabytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = "  s{0}: {{image: 'busybox:1.37.0', environment: {{PAD: '" + "x" * 60 + "'}}}}\n"
    block = "".join(line.format(i) for i in range(10_000))
    with path.open("w", encoding="utf-8") as out:
        out.write("services:\n")
        while out.tell() < megabytes * 1024 * 1024:
            out.write(block.replace("  s", f"  s{out.tell()}x"))


def test_an_unloaded_17_mb_file_is_known_by_name_and_never_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose.yaml").write_text(ROOT, encoding="utf-8")
    big_compose_file(tmp_path / "vendor" / "compose.yml", 17)
    sizes = counting_parses(monkeypatch)
    facts = ProjectFacts.read(tmp_path)
    assert sizes == [len(ROOT)]  # the one file compose loads, once
    assert facts.loaded == ("compose.yaml",)
    # ROOT-003's one question about it, answered from its first bytes, not a parse
    assert facts.unloaded == {"vendor/compose.yml": True}
    assert "vendor/compose.yml" not in facts.texts


def test_a_loaded_file_over_the_size_bound_ends_the_run_before_any_render(
    tmp_path: Path,
) -> None:
    big_compose_file(tmp_path / "compose.yaml", COMPOSE_MAX_BYTES // (1024 * 1024) + 1)
    with pytest.raises(InputRefused, match=r"compose.yaml is \d\.\d MiB, over the 4 MiB bound"):
        ProjectFacts.read(tmp_path)
    compose = Compose(Project.at(tmp_path, None, static=True))
    with render_cache() as cache, pytest.raises(InputOverBound) as refused:
        check_stack(compose, sample=1, seed=1)
    assert cache.renders == 0
    assert refused.value.exit_code == 2 and refused.value.hint
    assert "\n" not in refused.value.message


def test_an_alias_bomb_is_refused_while_composing_before_any_render() -> None:
    # 600 bytes that expand to 10^10 strings: refused after about a million nodes of work
    with pytest.raises(InputRefused, match="alias bomb"):
        ProjectFacts.read(FIXTURES / "aliasbomb")
    compose = Compose(Project.at(FIXTURES / "aliasbomb", None, static=True))
    with render_cache() as cache, pytest.raises(InputOverBound, match=r"docker-compose\.yml"):
        check_stack(compose, sample=1, seed=1)
    assert cache.renders == 0  # compose never ran: no memory bound, no minutes


def test_a_self_referencing_alias_and_a_deep_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(ROOT + "x-loop: &loop [1, *loop]\n")
    with pytest.raises(InputRefused, match="inside its own anchor"):
        ProjectFacts.read(tmp_path)
    # libyaml's own composer crashes the process on a file this deep (100,000 levels)
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "compose.yaml").write_text(ROOT + f"x-deep: {deep}\n")
    with pytest.raises(InputRefused, match=f"nests deeper than {MAX_DEPTH} levels"):
        ProjectFacts.read(tmp_path)


def test_an_included_file_and_an_env_example_over_their_bounds_are_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "compose.yaml").write_text("include: [infra/a/compose.yaml]\n" + ROOT)
    big_compose_file(tmp_path / "infra" / "a" / "compose.yaml", 5)
    with pytest.raises(InputRefused, match=r"^infra/a/compose\.yaml is "):
        ProjectFacts.read(tmp_path)
    (tmp_path / "compose.yaml").write_text(ROOT)
    (tmp_path / ".env.example").write_text("A=" + "x" * (1024 * 1024) + "\n")
    with pytest.raises(InputRefused, match=r"^\.env\.example is 1\.0 MiB, over the 1 MiB"):
        ProjectFacts.read(tmp_path)


def test_a_registry_or_facts_record_over_its_bound_is_a_finding(tmp_path: Path) -> None:
    registry = tmp_path / exceptions.REGISTRY_PATH
    registry.parent.mkdir(parents=True)
    registry.write_text("exceptions: []\n# " + "x" * exceptions.REGISTRY_MAX_BYTES + "\n")
    waivers, problems = exceptions.load(tmp_path)
    assert not waivers and [p.rule_id for p in problems] == ["EXC-001"]
    assert "over the 1 MiB bound" in problems[0].message
    bomb = (FIXTURES / "aliasbomb" / "docker-compose.yml").read_text()
    registry.write_text(bomb.replace("services:", "exceptions:\nx-services:"))
    waivers, problems = exceptions.load(tmp_path)
    assert [p.rule_id for p in problems] == ["EXC-001"] and "alias bomb" in problems[0].message
    facts_dir = tmp_path / "infra" / "image-facts"
    facts_dir.mkdir()
    (facts_dir / "big.yml").write_text("image: a:1\n# " + "x" * FACTS_MAX_BYTES + "\n")
    (facts_dir / "bomb.yml").write_text(bomb)
    problems_by_file = {p.file: p.message for p in read_image_facts(tmp_path).problems}
    assert "over the 0.25 MiB bound" in problems_by_file["infra/image-facts/big.yml"]
    assert "alias bomb" in problems_by_file["infra/image-facts/bomb.yml"]


BROKEN = """\
services:
  web: {image: "nginx:1.27.3", profiles: [a], not_a_compose_key: 1}
  api: {image: "nginx:1.27.3", profiles: [b]}
"""


@pytest.mark.parametrize("sample", [0, 1])
def test_a_failed_full_render_stops_the_matrix(tmp_path: Path, sample: int) -> None:
    (tmp_path / "compose.yaml").write_text(BROKEN, encoding="utf-8")
    compose = Compose(Project.at(tmp_path, None, static=True))
    with render_cache() as cache, pytest.raises(RenderError, match="not_a_compose_key"):
        check_stack(compose, sample=sample, seed=1)
    # The full render and the sampled ones started beside it; nothing after the failure.
    assert cache.renders == 1 + sample, cache.renders


@pytest.mark.parametrize("case", ["aliasbomb", "deep", "big-include"])
def test_every_render_refuses_a_loaded_file_over_a_bound_before_compose_runs(
    tmp_path: Path, case: str
) -> None:
    """validate and gate render before any facts are read: the boundary's walk holds the
    same bounds, so compose never spends its memory bound on such a file."""
    from stackctl.errors import EnvironmentProblem
    from stackctl.project.render import render_outcome

    root = tmp_path / "theirs"
    root.mkdir()
    if case == "aliasbomb":
        root_file = root / "docker-compose.yml"
        root_file.write_text((FIXTURES / "aliasbomb" / "docker-compose.yml").read_text())
    elif case == "deep":
        deep = "[" * 300 + "]" * 300
        (root / "docker-compose.yml").write_text(
            f"services:\n  web:\n    labels:\n      a: {deep}\n"
        )
    else:
        (root / "docker-compose.yml").write_text("include:\n  - big.yml\n")
        big_compose_file(root / "big.yml", 5)
    compose = Compose(Project.at(root, None, static=True))
    with pytest.raises(EnvironmentProblem, match=r"nests deeper|alias bomb|MiB bound"):
        render_outcome(compose, ("*",))
