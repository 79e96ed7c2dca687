"""The project boundary of a static command: compose reads nothing outside the project.

``check``, ``validate``, ``profiles``, ``gate`` and ``fix`` judge projects that may be
hostile (another team's, a pull request's). Before the first render of such a project,
every file compose would read (``checks.compose_inputs``: includes, extends, env files,
``env_file:``, ``label_file:``) must resolve inside the project directory, symlinks
resolved, and no ``.env`` may be loaded by any route unless git tracks it (the
project's committed defaults, as for the project's own ``.env``). Otherwise the run
stops with one line naming the reference: compose never opens the file, so no byte of
it can reach a report. What the user names on the command line (``-f``,
``--env-file``) is the user's choice and passes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from functools import cache
from pathlib import Path

from checks.compose_inputs import InputReference, RenderInputs, render_inputs
from stackctl.errors import EnvironmentProblem
from stackctl.project.compose import Compose, Project, why_not_committed

OUTSIDE_HINT = (
    "keep every file the project reads inside --project-dir (a symlink counts where it"
    " leads), or widen the boundary to a folder you trust with --boundary (say the"
    " repository root); -f and --env-file may name files anywhere"
)
BOUND_HINT = (
    "compose loads this file, so it is not checked partly; make it smaller or flatter"
    " (the bounds are in README's check section)"
)
DOTENV_HINT = (
    "name the env file the include should use (include: env_file:), or commit the .env"
    " if it holds only defaults"
)


def _more(references: tuple[InputReference, ...]) -> str:
    return f" (and {len(references) - 1} more)" if len(references) > 1 else ""


def inputs_of(compose: Compose) -> RenderInputs:
    """Every file a render of ``compose``'s project reads, from the files alone."""
    project = compose.project
    return render_inputs(
        project.directory,
        project.files,
        project.env_file,
        environment=compose.environment(),
        given_files=bool(project.files),
        # the empty stand-in (os.devnull) for "no env file" is ours, not the project's
        given_env_file="--env-file" in project.env_origin or not project.reads_env_file,
    )


@cache
def _checked(project: Project, inputs: RenderInputs) -> None:
    if inputs.refused:  # before compose spends its memory bound on it
        file, why = inputs.refused[0]
        raise EnvironmentProblem(f"{file} {why}", hint=BOUND_HINT)
    outside = inputs.outside_of(project.boundary_dir)
    if outside:
        first = outside[0]
        where = "the project" if project.boundary is None else f"--boundary {project.boundary}"
        raise EnvironmentProblem(
            f"{first.where} reads {first.path}, outside {where}{_more(outside)};"
            " refused, nothing was read",
            hint=OUTSIDE_HINT,
        )
    untracked = tuple(r for r in inputs.dotenv if why_not_committed(project.directory, r.path))
    if untracked:
        first = untracked[0]
        shown = first.path.relative_to(project.directory).as_posix()
        raise EnvironmentProblem(
            f"{first.where} makes compose load {shown}, which git does not track"
            f"{_more(untracked)}; a static command never reads an uncommitted .env",
            hint=DOTENV_HINT,
        )


def content_digest(path: Path) -> str | None:
    """sha256 of a regular file's bytes, "absent" when there is none; None for anything
    else (a FIFO, a device, an unreadable file): a render reading it is never stored."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _signature(inputs: RenderInputs) -> tuple[str | None, ...]:
    return tuple(content_digest(path) for path in inputs.paths)


# (project, child environment) -> its inputs and their contents' digests: the walk runs
# again only when a byte of a file it read changed (``fix`` edits files between renders;
# an edit can name a new file), not once per profile render. The environment is part of
# the key: ${VAR} in a path is interpolated from it.
_WalkKey = tuple[Project, tuple[tuple[str, str], ...]]
_walked: dict[_WalkKey, tuple[RenderInputs, tuple[str | None, ...]]] = {}
_walked_lock = threading.Lock()


def checked_inputs(compose: Compose) -> tuple[RenderInputs, tuple[str | None, ...]]:
    """The render's inputs and the digest of each (``content_digest``, in ``paths``
    order), once every one is inside the project; else one line, exit 2."""
    key = (compose.project, tuple(sorted(compose.environment().items())))
    with _walked_lock:
        known = _walked.get(key)
        digests = None if known is None else _signature(known[0])
        if known is None or digests != known[1]:
            inputs = inputs_of(compose)
            digests = _signature(inputs)
            known = _walked[key] = (inputs, digests)
    _checked(compose.project, known[0])
    return known[0], known[1]


def require_within(compose: Compose) -> RenderInputs:
    """The render's inputs, once every one is inside the project; else one line, exit 2."""
    return checked_inputs(compose)[0]
