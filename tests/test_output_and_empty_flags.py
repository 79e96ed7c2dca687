"""--output never writes through a symlinked folder; an empty flag value is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.commands import all_commands
from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.reporting import emit


def test_a_symlinked_folder_on_the_output_path_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "report.json"
    victim.write_text("keep", encoding="utf-8")
    (tmp_path / "reports").symlink_to(elsewhere)
    with pytest.raises(EnvironmentProblem, match="is a symlink"):
        emit("{}", tmp_path / "reports" / "report.json")
    assert victim.read_text(encoding="utf-8") == "keep"


def test_a_symlink_as_the_output_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep", encoding="utf-8")
    (tmp_path / "report.json").symlink_to(victim)
    with pytest.raises(EnvironmentProblem, match="is a symlink"):
        emit("{}", tmp_path / "report.json")
    assert victim.read_text(encoding="utf-8") == "keep"


def test_missing_folders_are_made_and_the_report_written(tmp_path: Path) -> None:
    target = tmp_path / "out" / "deep" / "report.json"
    emit('{"ok": true}', target)
    assert target.read_text(encoding="utf-8") == '{"ok": true}'


@pytest.mark.parametrize("flag", ["fail_on", "format"])
def test_an_empty_value_is_a_usage_error(flag: str, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n", encoding="utf-8")
    with pytest.raises(UsageError, match=f"--{flag.replace('_', '-')} is empty"):
        all_commands()["check"].parse({"project_dir": str(tmp_path), flag: ""})
