"""A private copy of the fixture stack (tests/fixtures/opsstack) for one engine test.

Each copy gets a unique project name (so its containers and network are its
own), a state directory under tmp_path and its own scaffolded secrets.
"""

from __future__ import annotations

import contextlib
import secrets as random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli import run_invoke
from conftest import OPS_FIXTURE

SERVICE_PROFILES = "core,data,app,nonroot"  # every healthy service of the fixture


@dataclass
class OpsCopy:
    path: Path
    name: str
    state: Path

    @property
    def network(self) -> str:
        return f"{self.name}-net"

    def scaffold(self) -> None:
        done = run_invoke(self.path, "secrets.scaffold")
        assert done.returncode == 0, done.stdout + done.stderr


def make_copy(tmp_path: Path, test_image: str, prefix: str, log_driver: str = "local") -> OpsCopy:
    path = tmp_path / "ops"
    shutil.copytree(OPS_FIXTURE, path, ignore=shutil.ignore_patterns("secrets"))
    name = f"{prefix}{random.token_hex(4)}"
    state = tmp_path / "state"
    (path / ".env").write_text(
        f"COMPOSE_PROJECT_NAME={name}\nDEFAULT_MOUNT_VOLUME_PATH={state}\n"
        f"LOG_DRIVER={log_driver}\nTEST_IMAGE={test_image}\n"
    )
    return OpsCopy(path, name, state)


def project_containers(engine: Any, name: str) -> list[Any]:
    # ignore_removed: a container removed between listing and inspecting is simply gone.
    return engine.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={name}"}, ignore_removed=True
    )


def project_networks(engine: Any, name: str) -> list[Any]:
    by_label = engine.networks.list(filters={"label": f"com.docker.compose.project={name}"})
    by_name = [n for n in engine.networks.list(names=[f"{name}-net"]) if n.name == f"{name}-net"]
    return list({n.id: n for n in [*by_label, *by_name]}.values())


def remove_everything(engine: Any, name: str, extra_containers: list[str] = ()) -> None:
    """Remove what one test created: its project's containers and networks only."""
    from docker.errors import NotFound

    for container in project_containers(engine, name):
        container.remove(force=True)
    for container_name in extra_containers:
        with contextlib.suppress(NotFound):
            engine.containers.get(container_name).remove(force=True)
    for network in project_networks(engine, name):
        try:
            network.reload()
            for member in network.attrs.get("Containers") or {}:
                network.disconnect(member, force=True)
            network.remove()
        except NotFound:
            pass
