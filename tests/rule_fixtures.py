"""Build a small project from a rule fixture and turn it into a Stack.

A fixture is ``tests/fixtures/rules/<RULE-ID>.yml`` with a ``violating`` and a
``passing`` case. Each case is either ``compose`` (the root file, rendered by the
real compose binary) plus optional ``files`` and ``env`` (.env.example), or
``model`` (a rendered model, for inputs compose itself refuses to load).
A case may also carry ``facts``: image facts records (as mappings), written to
``infra/image-facts/<image>.yml`` the way the project keeps them. A ``compose``
root may carry the same records under ``x-image-facts`` (compose ignores ``x-*``
keys), which is how a rule's ``--explain`` example states the facts it assumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from checks.image_facts import FACTS_DIR
from checks.stack import ProjectFacts, Stack
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render

EXAMPLE_FACTS_KEY = "x-image-facts"
RULE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rules"
DEFAULT_ENV = "DEFAULT_MOUNT_VOLUME_PATH=/srv/state\n"


def load_fixture(rule_id: str) -> dict[str, Any]:
    return yaml.safe_load((RULE_FIXTURES / f"{rule_id}.yml").read_text(encoding="utf-8"))


def facts_file_name(image: str) -> str:
    """``quay.io/a/b:1.0`` -> ``quay.io-a-b-1.0.yml`` (the README's naming)."""
    return image.replace("/", "-").replace(":", "-").replace("@", "-") + ".yml"


def write_facts(records: list[dict[str, Any]], directory: Path) -> None:
    facts_dir = directory / FACTS_DIR
    facts_dir.mkdir(parents=True, exist_ok=True)
    for record in records:
        path = facts_dir / facts_file_name(str(record["image"]))
        path.write_text(yaml.safe_dump(record, sort_keys=False), encoding="utf-8")


def build_stack(case: dict[str, Any], directory: Path) -> Stack:
    directory.mkdir(parents=True, exist_ok=True)
    root = case.get("compose") or {"services": {}}
    records = [*(case.get("facts") or []), *(root.get(EXAMPLE_FACTS_KEY) or [])]
    if records:
        write_facts(records, directory)
    (directory / ".env.example").write_text(case.get("env", DEFAULT_ENV), encoding="utf-8")
    for relative, content in (case.get("files") or {}).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    (directory / "docker-compose.yml").write_text(
        yaml.safe_dump({"name": "fixture", **root}, sort_keys=False), encoding="utf-8"
    )
    facts = ProjectFacts.read(directory)
    profiles = tuple(case.get("profiles", ["*"]))
    if "model" in case:
        return facts.stack(case["model"], profiles)
    model = render(Compose(Project.at(directory, ".env.example")), profiles)
    return facts.stack(model.data, profiles)
