"""Each piece of work once per run: the exceptions file, the image facts and the rule
catalogue are read or built once per `check` and once per `gate` (validate, then
check, in one process). Counted, never timed (issue #20)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import checks.catalogue as catalogue
import checks.stack as stack_facts
from checks import exceptions
from stackctl.edge import cli

# Each test runs a stackctl command in this process: slow, like every entry point.
pytestmark = pytest.mark.slow

COMPOSE = """\
services:
  web:
    image: "nginx:1.27.3"
    profiles: [core]
  worker:
    image: "busybox:1.37.0"
    profiles: [jobs]
"""
REGISTRY = """\
exceptions:
  - service: web
    rule: PRIV-001
    subjects: ["*"]
    relaxes: a read-only root filesystem
    rationale: nginx writes its cache under /var/cache
    adr: docs/adr/0001-web.md
"""


class CountingRegistry(dict[str, Any]):
    """The rule registry, counting how often the catalogue is built from it."""

    builds = 0

    def items(self) -> Any:
        CountingRegistry.builds += 1
        return super().items()


@dataclass
class Reads:
    registry: int = 0
    image_facts: int = 0
    catalogue: list[int] = field(default_factory=list)


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Reads]]:
    (tmp_path / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
    (tmp_path / "infra").mkdir()
    (tmp_path / exceptions.REGISTRY_PATH).write_text(REGISTRY, encoding="utf-8")
    (tmp_path / "docs" / "adr").mkdir(parents=True)
    (tmp_path / "docs" / "adr" / "0001-web.md").write_text("# web\n", encoding="utf-8")
    reads = Reads()
    # Nothing read before this test may count for it.
    monkeypatch.setattr(exceptions, "_last_read", None, raising=False)
    monkeypatch.setattr(catalogue, "_built", None, raising=False)
    catalogue.rule_catalogue()  # the rules are imported (registered) before counting
    monkeypatch.setattr(catalogue, "_built", None, raising=False)
    monkeypatch.setattr(catalogue, "REGISTRY", CountingRegistry(catalogue.REGISTRY))
    CountingRegistry.builds = 0
    load = yaml.load

    def counting_load(stream: Any, Loader: Any) -> Any:
        if isinstance(Loader, type) and issubclass(Loader, exceptions.RegistryLoader):
            reads.registry += 1
        return load(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", counting_load)
    read_image_facts = stack_facts.read_image_facts

    def counting_image_facts(project_dir: Path) -> Any:
        reads.image_facts += 1
        return read_image_facts(project_dir)

    monkeypatch.setattr(stack_facts, "read_image_facts", counting_image_facts)
    yield tmp_path, reads


@pytest.mark.parametrize("command", ["check", "gate"])
def test_each_input_is_read_once_per_run(
    counted: tuple[Path, Reads], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project, reads = counted
    code = cli.main(["--project-dir", str(project), command, "--format", "json"])
    assert code in {0, 1}, capsys.readouterr().err
    assert reads.registry == 1
    assert reads.image_facts == 1
    assert CountingRegistry.builds == 1


def test_a_changed_registry_is_read_again(counted: tuple[Path, Reads]) -> None:
    project, reads = counted
    first, _ = exceptions.load(project)
    assert exceptions.load(project)[0] == first and reads.registry == 1
    registry = project / exceptions.REGISTRY_PATH
    registry.write_text(REGISTRY.replace("PRIV-001", "PRIV-002"), encoding="utf-8")
    assert [w.rule for w in exceptions.load(project)[0]] == ["PRIV-002"]
    (project / "docs" / "adr" / "0001-web.md").unlink()  # the entry's ADR is gone
    waivers, problems = exceptions.load(project)
    assert not waivers and "links missing ADR" in problems[0].message
