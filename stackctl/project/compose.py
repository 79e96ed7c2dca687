"""The one place that runs the compose binary.

Which binary runs is ``stackctl.project.binary``'s answer.

Every call passes the project directory, the root file, the env file and the
profiles explicitly. ``COMPOSE_PROFILES`` and ``COMPOSE_FILE`` are removed
from the child environment so a stray shell variable can never change which
services a command touches: profiles come only from ``--profiles``.

Compose never fetches a remote ``include`` or ``extends`` (git or OCI): its own
switches turn both loaders off for every child. A *static* project (the one
``check``, ``validate``, ``profiles`` and ``gate`` parse, ``Project.static``)
is rendered with a minimal environment besides: ``STATIC_ENVIRONMENT`` names
every variable that passes, so ``${VAR}`` comes from the env file given, never
from the caller's shell (where tokens and credentials live).

Every compose child is started by ``stackctl.project.children``: bounded in time
and memory, in its own process group, stopped with the command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from checks.conventions import (
    DEFAULT_COMPOSE_FILES,
    default_compose_files,
    ignored_default_files,
)
from stackctl.errors import (
    ComposeAborted,
    EnvironmentProblem,
    one_line,
)
from stackctl.project.binary import ComposeBinary, default_binary
from stackctl.project.children import (
    CHILDREN,
    MEMORY_VARIABLE,
    TIMEOUT_VARIABLE,
    Bounds,
    run_child,
    spawn_child,
    stop_child,
)

# Variables that would silently override the explicit selection we pass.
_SCRUBBED_ENV = ("COMPOSE_PROFILES", "COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR")
# compose's own switches for its remote loaders: with them off it answers "git (OCI)
# remote resource is disabled" and runs no git, opens no connection.
NO_REMOTE_LOADERS = {
    "COMPOSE_EXPERIMENTAL_GIT_REMOTE": "false",
    "COMPOSE_EXPERIMENTAL_OCI_REMOTE": "false",
}
# Go runtime settings every compose child gets from us (see ``Compose.environment``).
GO_RUNTIME_SETTINGS = ("GOGC", "GOMEMLIMIT")
# All a static render sees of the caller's environment: what a process needs (PATH,
# HOME, TMPDIR); the variables compose documents as its own
# (docs.docker.com/compose/how-tos/environment-variables/envvars/), less those that
# choose the inputs (COMPOSE_FILE, COMPOSE_PROFILES, COMPOSE_PATH_SEPARATOR,
# COMPOSE_ENV_FILES: inputs come only from flags); and the Docker CLI variables it
# inherits that say which engine and client configuration to use
# (docs.docker.com/reference/cli/docker/#environment-variables). Credentials
# (DOCKER_AUTH_CONFIG, DOCKER_CUSTOM_HEADERS), proxies, build settings and everything
# else stay out; a value a render needs belongs in the env file (--env-file).
STATIC_ENVIRONMENT = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "COMPOSE_PROJECT_NAME",
        "COMPOSE_CONVERT_WINDOWS_PATHS",
        "COMPOSE_IGNORE_ORPHANS",
        "COMPOSE_REMOVE_ORPHANS",
        "COMPOSE_PARALLEL_LIMIT",
        "COMPOSE_ANSI",
        "COMPOSE_STATUS_STDOUT",
        "COMPOSE_DISABLE_ENV_FILE",
        "COMPOSE_MENU",
        "COMPOSE_EXPERIMENTAL",
        "COMPOSE_PROGRESS",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_CONFIG",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS",
        "DOCKER_TLS_VERIFY",
        "DOCKER_API_VERSION",
        "DOCKER_DEFAULT_PLATFORM",
    }
)


def _readable_text_file(path: Path, what: str, hint: str) -> Path:
    """``path`` as a regular, readable UTF-8 file, or one line naming it."""
    if path.is_dir():
        raise EnvironmentProblem(f"{what} {path} is a directory, not a file", hint=hint)
    if not path.is_file():
        raise EnvironmentProblem(f"{what} {path} is missing or not a regular file", hint=hint)
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise EnvironmentProblem(
            f"{what} {path} is not UTF-8 text (byte {error.start})", hint=hint
        ) from None
    except OSError as error:
        raise EnvironmentProblem(
            f"{what} {path} cannot be read: {error.strerror}", hint=hint
        ) from None
    return path


@dataclass(frozen=True)
class Project:
    """A compose project: its directory, its compose files and the env file it renders with.

    ``files`` empty means the files compose itself picks (``compose_files``). Built
    once per command (``Project.at``), then passed to every compose call unchanged.

    ``static`` marks the project of a command that only reads the files (``check``,
    ``validate``, ``profiles``, ``gate``: ``groups.parse_project(raw, "validation")``):
    every compose child of it gets ``STATIC_ENVIRONMENT`` only, so ``${VAR}``
    comes from the env file alone. Operating commands keep the caller's environment.

    ``env_candidate`` is a ``.env`` compose would read by default, left undecided by
    the parser (which starts no process): ``settled()`` reads it only when git
    tracks it, and otherwise says in ``env_skipped`` why it was not read.
    """

    directory: Path
    env_file: Path | None = None
    files: tuple[Path, ...] = ()
    name: str | None = None  # None: compose decides (COMPOSE_PROJECT_NAME, `name:`, directory)
    static: bool = False
    env_origin: str = ""  # why this env file, for the report's header
    env_candidate: Path | None = None
    env_skipped: str = ""
    # --no-cache turns it off: a static render is then never served from, nor stored
    # in, the user's render cache (``stackctl.project.render``).
    use_render_cache: bool = True
    # The folder nothing a static render reads may leave (``stackctl.project.boundary``):
    # the project directory, unless the user widens it with --boundary (a monorepo whose
    # projects share files above their own folders).
    boundary: Path | None = None

    @property
    def boundary_dir(self) -> Path:
        return self.boundary or self.directory

    @classmethod
    def at(
        cls,
        directory: Path | str,
        env_file: Path | str | None = None,
        files: Sequence[Path | str] = (),
        name: str | None = None,
        *,
        static: bool = False,
        env_origin: str = "",
        env_candidate: Path | None = None,
    ) -> Project:
        try:
            root = Path(directory).resolve()
        except (OSError, RuntimeError) as error:  # a symlink loop (RuntimeError before 3.13)
            raise EnvironmentProblem(
                f"project directory {directory} cannot be resolved: {error}",
                hint="pass --project-dir naming a real directory",
            ) from None
        if not root.is_dir():
            what = "is not a directory" if root.exists() else "does not exist"
            raise EnvironmentProblem(f"project directory {root} {what}", hint="pass --project-dir")
        resolved = tuple(p if p.is_absolute() else root / p for p in map(Path, files))
        for path in resolved or tuple(root / n for n in default_compose_files(root)):
            if not path.is_file():
                message = (
                    f"compose file {path} is not a regular file"
                    if path.exists()
                    else f"no compose file {path}"
                )
                raise EnvironmentProblem(
                    message,
                    hint="run from the project's directory, or pass --project-dir / --file"
                    f" (compose looks for {', '.join(DEFAULT_COMPOSE_FILES)})",
                )
        env_path: Path | None = None
        if env_file is not None:
            env_path = Path(env_file)
            if not env_path.is_absolute():
                env_path = root / env_path
            _readable_text_file(
                env_path, "env file", "create it (e.g. copy .env.example), or pass --env-file"
            )
        return cls(
            directory=root,
            env_file=env_path,
            files=resolved,
            name=name,
            static=static,
            env_origin=env_origin,
            env_candidate=None if env_candidate is None else root / env_candidate,
        )

    @property
    def compose_files(self) -> tuple[Path, ...]:
        # Without -f, the files compose itself would pick: the main file and its override.
        return self.files or tuple(
            self.directory / n for n in default_compose_files(self.directory)
        )

    @property
    def reads_env_file(self) -> bool:
        """Whether a real env file is read (not none, not the empty stand-in)."""
        return self.env_file is not None and self.env_file != Path(os.devnull)

    @property
    def root_path(self) -> Path:
        return self.compose_files[0]

    @property
    def files_origin(self) -> str:
        """Why these compose files, in a few words for the report's header."""
        if self.files:
            return "given with -f"
        picked = "compose's defaults" if len(self.compose_files) > 1 else "compose's default"
        ignored = ignored_default_files(self.directory)
        if ignored:
            picked += f"; {', '.join(ignored)} also present, ignored as compose ignores it"
        return picked

    def settled(self) -> Project:
        """This project with its env file decided (runs git when a ``.env`` is undecided)."""
        return self if self.env_candidate is None else _settle(self)


COMMITTED_ENV = "tracked by git: the project's committed defaults, read as compose reads them"


@cache
def _settle(project: Project) -> Project:
    candidate = project.env_candidate
    assert candidate is not None
    shown = candidate.name
    why_not = why_not_committed(project.directory, candidate)
    if why_not:
        skipped = f"{shown} {why_not}: never read, as it may hold real credentials"
        return dataclasses.replace(project, env_candidate=None, env_skipped=skipped)
    _readable_text_file(candidate, "env file", "fix or remove it, or pass --env-file")
    return dataclasses.replace(
        project, env_file=candidate, env_candidate=None, env_origin=f"{shown} ({COMMITTED_ENV})"
    )


def why_not_committed(directory: Path, candidate: Path) -> str:
    """Nothing when git tracks ``candidate``; else why it cannot count as committed.

    Only the index is asked (``ls-files``: no network, no remote); the repository's
    own hooks and fsmonitor are switched off, so a hostile checkout runs nothing.
    """
    if candidate.is_symlink():
        return "is a symlink"
    if not candidate.is_file():
        return "is not a regular file"
    git = shutil.which("git")
    if git is None:
        return "may be uncommitted (no git to ask)"
    argv = [
        git,
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.hooksPath=/dev/null",
        "ls-files",
        "--error-unmatch",
        "--",
        candidate.name,
    ]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    done = run_child(
        argv,
        cwd=candidate.parent,
        env=env,
        bounds=Bounds(30.0, Bounds.from_env().memory_mb),
        timed_out=lambda: EnvironmentProblem(
            f"git ls-files did not answer within 30s in {directory}",
            hint="pass --env-file to name the env file to render with",
        ),
        hint="install git, or pass --env-file",
    )
    return "" if done.returncode == 0 else "is not tracked by git"


_OUT_OF_MEMORY = re.compile(r"fatal error: .*(out of memory|cannot allocate|reserve)", re.I)


def _verb(args: Sequence[str]) -> str:
    words = [a for a in args if not a.startswith("-") and a not in ("never", "auto", "always")]
    return words[0] if words else "compose"


@dataclass(frozen=True)
class Compose:
    """Runs compose for one project. Output that is parsed is captured (never a pty)."""

    project: Project
    binary: ComposeBinary = field(default_factory=default_binary)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=Bounds.from_env)

    def __post_init__(self) -> None:
        # Every compose child of a project sees the env file decided once (settled).
        object.__setattr__(self, "project", self.project.settled())

    def command(self, args: Sequence[str], profiles: Sequence[str] = ()) -> list[str]:
        argv = [*self.binary.argv, "--project-directory", str(self.project.directory)]
        for path in self.project.compose_files:
            argv += ["-f", str(path)]
        if self.project.env_file is not None:
            argv += ["--env-file", str(self.project.env_file)]
        if self.project.name is not None:
            argv += ["--project-name", self.project.name]
        for profile in profiles:
            argv += ["--profile", profile]
        return [*argv, *args]

    def environment(self) -> dict[str, str]:
        """The child's environment: the allow-list for a static project, else the
        caller's (less the selection overrides); never a remote loader."""
        if self.project.static:
            env = {k: v for k, v in os.environ.items() if k in STATIC_ENVIRONMENT}
        else:
            env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        # An explicitly empty COMPOSE_PROFILES also beats a value in the env file.
        env["COMPOSE_PROFILES"] = ""
        # compose is a short-lived Go program: collecting garbage less often (GOGC=400)
        # cut a render's CPU time by about a third here, and GOMEMLIMIT makes the
        # collector work hard again well before our memory bound. The caller's own
        # settings win for operating commands (a static render sees only ours).
        env.setdefault(GO_RUNTIME_SETTINGS[0], "400")
        env.setdefault(GO_RUNTIME_SETTINGS[1], f"{self.bounds.memory_mb * 3 // 4}MiB")
        env.update(self.extra_env)
        env.update(NO_REMOTE_LOADERS)  # last: nothing turns them back on
        return env

    def run(
        self,
        args: Sequence[str],
        profiles: Sequence[str] = (),
        *,
        capture: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run compose within its bounds; with ``capture`` no tty and no colours.

        ``timeout`` overrides the configured bound for calls that legitimately
        wait longer (``up --wait``, ``pull``). Past it the child's group is
        killed and ``ComposeAborted`` says so in one line.
        """
        if capture:
            args = ["--ansi", "never", *args] if args and args[0] != "--ansi" else list(args)
        argv = self.command(args, profiles)
        limit = self.bounds.timeout if timeout is None else timeout
        done = run_child(
            argv,
            cwd=self.project.directory,
            env=self.environment(),
            bounds=Bounds(limit, self.bounds.memory_mb),
            capture=capture,
            timed_out=lambda: ComposeAborted(
                f"compose {_verb(args)} did not finish within {limit:g}s and was stopped",
                hint=f"set {TIMEOUT_VARIABLE} to allow longer, or look for a loop in the files",
            ),
        )
        if done.returncode != 0 and done.stderr and _OUT_OF_MEMORY.search(done.stderr):
            raise ComposeAborted(
                f"compose {_verb(args)} ran out of its {self.bounds.memory_mb} MB memory bound",
                hint=f"a YAML alias bomb? else set {MEMORY_VARIABLE} higher",
            )
        return done

    @contextlib.contextmanager
    def stream(
        self, args: Sequence[str], profiles: Sequence[str] = ()
    ) -> Iterator[subprocess.Popen[str]]:
        """Compose with stdout and stderr merged into one pipe, read as it arrives.

        The child (and its group) is stopped when the block ends, however it ends.
        """
        process = spawn_child(
            self.command(["--ansi", "never", *args], profiles),
            cwd=self.project.directory,
            env=self.environment(),
            bounds=self.bounds,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                stop_child(process, signal.SIGTERM)
            if process.stdout is not None:
                process.stdout.close()
            CHILDREN.discard(process)


def first_error_line(stderr: str) -> str:
    """The first meaningful line compose printed, without its log-level noise, cut to one line."""
    for line in stderr.splitlines():
        text = line.strip()
        if not text:
            continue
        text = re.sub(r'^time="[^"]*"\s+level=\w+\s+msg=', "", text)
        return one_line(text.strip('"').replace('\\"', '"'))
    return ""


# compose's own words for problems of the environment, not of the stack's files.
_ENVIRONMENT_ERRORS = (
    re.compile(r"invalid project name", re.I),
    re.compile(r"project name must not be empty", re.I),
    re.compile(r"couldn't find env file", re.I),
    re.compile(r"COMPOSE_[A-Z_]+", re.I),
)


def is_environment_error(message: str, project: Project) -> bool:
    """Whether a compose error line is about the environment (env file, project name, COMPOSE_*).

    Such an error fails every combination alike, so ``validate`` reports it as
    an environment error (exit 2), not as failing combinations (exit 1).
    """
    if project.env_file is not None:
        env = project.env_file
        names = {str(env)}
        if env.is_relative_to(project.directory):
            names.add(env.relative_to(project.directory).as_posix())
        if any(f"read {name}" in message or f"{name}:" in message for name in names):
            return True
    return any(pattern.search(message) for pattern in _ENVIRONMENT_ERRORS)
