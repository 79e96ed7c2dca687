"""A render error that does not depend on the profiles ends the run at once.

Every combination would repeat it, each at a render's cost (minutes for an alias
bomb), so the matrix is not rendered after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.checking.check_run import check_stack
from stackctl.errors import RenderError
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render_cache

BROKEN = """\
services:
  web: {image: "nginx:1.27.3", profiles: [a], not_a_compose_key: 1}
  api: {image: "nginx:1.27.3", profiles: [b]}
  job: {image: "nginx:1.27.3", profiles: [c]}
"""


def test_an_error_of_the_files_is_reported_once_without_the_matrix(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(BROKEN, encoding="utf-8")
    compose = Compose(Project.at(tmp_path, None, static=True))
    with render_cache() as cache, pytest.raises(RenderError, match="not_a_compose_key"):
        check_stack(compose, sample=1, seed=1)
    # The full render, the one sampled selection beside it, and the bare one: no more.
    assert cache.renders <= 3, cache.renders
