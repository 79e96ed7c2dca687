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

import threading
from functools import cache
from pathlib import Path

from checks.compose_inputs import InputReference, RenderInputs, render_inputs
from stackctl.errors import EnvironmentProblem
from stackctl.project.compose import Compose, Project, why_not_committed

OUTSIDE_HINT = (
    "keep every file the project reads inside --project-dir (a symlink counts where it"
    " leads); name a file outside it yourself with -f or --env-file if you trust it"
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
    outside = inputs.outside
    if outside:
        first = outside[0]
        raise EnvironmentProblem(
            f"{first.where} reads {first.path}, outside the project{_more(outside)};"
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


def _signature(inputs: RenderInputs) -> tuple[tuple[int, int] | None, ...]:
    def stat(path: Path) -> tuple[int, int] | None:
        try:
            status = path.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    return tuple(stat(path) for path in inputs.paths)


# Project -> its inputs and their stat signature: the walk runs again only when a file
# it read changed (``fix`` edits files between renders), not once per profile render.
_walked: dict[Project, tuple[RenderInputs, tuple[tuple[int, int] | None, ...]]] = {}
_walked_lock = threading.Lock()


def require_within(compose: Compose) -> RenderInputs:
    """The render's inputs, once every one is inside the project; else one line, exit 2."""
    with _walked_lock:
        known = _walked.get(compose.project)
        if known is None or _signature(known[0]) != known[1]:
            inputs = inputs_of(compose)
            known = _walked[compose.project] = (inputs, _signature(inputs))
    _checked(compose.project, known[0])
    return known[0]
