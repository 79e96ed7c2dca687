"""The Docker engine, through the Docker SDK: reachability, plugins, local images.

Nothing here runs at import time; the SDK is imported inside the functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from stackctl.errors import EnvironmentProblem

ENGINE_HINT = "start the engine (scripts/ensure-dockerd.sh as root) or set DOCKER_HOST"


def client(timeout: int = 10) -> Any:
    """A connected Docker SDK client, or a one-line error when no engine answers."""
    import docker
    from docker.errors import DockerException

    try:
        engine = docker.from_env(timeout=timeout)
        engine.ping()
    except DockerException:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise EnvironmentProblem(
            f"the Docker engine does not answer at {where}", ENGINE_HINT
        ) from None
    return engine


@dataclass(frozen=True)
class PluginState:
    name: str
    installed: bool
    enabled: bool = False
    reference: str = ""


def plugin_state(engine: Any, name: str) -> PluginState:
    """Whether a managed plugin (e.g. the ``loki`` logging driver) is installed and enabled."""
    from docker.errors import NotFound

    try:
        plugin = engine.plugins.get(name)
    except NotFound:
        return PluginState(name, installed=False)
    attrs = getattr(plugin, "attrs", {}) or {}
    return PluginState(
        name,
        installed=True,
        enabled=bool(getattr(plugin, "enabled", attrs.get("Enabled", False))),
        reference=str(attrs.get("PluginReference", "")),
    )


def missing_images(engine: Any, images: set[str]) -> list[str]:
    """The images not present in the local image store."""
    from docker.errors import ImageNotFound

    missing = []
    for image in sorted(images):
        try:
            engine.images.get(image)
        except ImageNotFound:
            missing.append(image)
    return missing
