"""``stackctl fix`` as a user runs it, on a copy of this repository's stack.

The stack puts its hardening in extends templates: with cap_drop taken out of the
shared baseline, the fix belongs in that one template, not in twenty services.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks.fixes import comments
from conftest import REPO

pytestmark = pytest.mark.slow  # starts stackctl and renders the whole stack

SCRIPT = str(Path(sys.executable).parent / "stackctl")
TEMPLATES = "infra/common-optimizations.yml"


def stackctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SCRIPT, *args, "--project-dir", str(project)],
        cwd=project.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def stack_without_cap_drop(copy_tree) -> Path:
    project = copy_tree(REPO, "stack")
    path = project / TEMPLATES
    text = path.read_text()
    assert "    cap_drop:\n      - ALL\n" in text
    path.write_text(text.replace("    cap_drop:\n      - ALL\n", "", 1))
    return project


def test_fix_puts_cap_drop_back_in_the_shared_template_only(stack_without_cap_drop: Path) -> None:
    project = stack_without_cap_drop
    before = snapshot(project)

    proposed = stackctl(project, "fix")
    assert proposed.returncode == 1, proposed.stderr
    assert proposed.stdout.startswith(f"--- a/{TEMPLATES}\n+++ b/{TEMPLATES}\n"), proposed.stdout
    assert "+    cap_drop:\n+      - ALL\n" in proposed.stdout
    assert snapshot(project) == before

    applied = stackctl(project, "fix", "--apply", "--format", "json")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert report["applied"] is True
    (change,) = report["changes"]
    assert change["file"] == TEMPLATES and change["rule"] == "PRIV-001"
    assert len(change["findings"]) > 15  # every service, repaired in one place
    after = snapshot(project)
    assert {name for name in before if after[name] != before[name]} == {TEMPLATES}
    template_before, template_after = before[TEMPLATES].decode(), after[TEMPLATES].decode()
    assert comments(template_before) <= comments(template_after)
    assert template_after.count("\n") == template_before.count("\n") + 2

    checked = stackctl(project, "check", "--format", "json")
    assert checked.returncode == 0, checked.stderr
    findings = json.loads(checked.stdout)["findings"]
    assert [f for f in findings if not f["suppressed"]] == []
    assert not any(f["fixable"] for f in findings)

    again = stackctl(project, "fix")
    assert again.returncode == 0 and again.stdout.strip() == "nothing to fix", again.stdout


def test_fix_on_this_stack_as_it_is_proposes_nothing() -> None:
    done = stackctl(REPO, "fix", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changes"] == []
