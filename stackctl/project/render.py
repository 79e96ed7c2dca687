"""Rendering the stack: ``docker compose config --format json`` is the only source of truth.

Compose does the merging, interpolation and path resolution; this module never
re-implements any of it. (Where each service is declared, for reports, is read
once per project by ``checks.stack.ProjectFacts``.)

A render returns the model *and* the warnings compose printed. Only ``strict``
callers (``validate``) turn a warning into an error; everyone else keeps going
and lets the warnings become findings.

Inside ``render_cache()`` each distinct render (binary, project, compose files,
env file, profiles, extra environment, static or not) runs at most once, even when several threads
ask for it at the same time, so ``validate`` and ``check`` in one process share
their renders.

A static project's renders are also kept across runs, in the user's cache folder
(``stackctl.project.render_store``), under a key made of their content: the
compose binary's identity and version, the exact argv and child environment, and
the bytes of every file the render reads (``boundary.checked_inputs``: compose
files, includes, extends, env files). A changed byte anywhere is another key, so a
stored outcome is never stale; a warm ``check`` starts no compose process at all.
Operating commands never use it: their renders see the caller's environment, which
may hold secrets that must not land in a file. ``--no-cache`` (``Project.use_render_cache``)
turns it off for one run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from checks.compose_inputs import RenderInputs
from stackctl.errors import RenderError
from stackctl.project import render_store
from stackctl.project.boundary import checked_inputs, inputs_of, require_within
from stackctl.project.compose import Compose, first_error_line
from stackctl.project.profiles import check_known

# Compose prints these on stderr but still exits 0; for this stack they are errors.
_WARNING_PATTERNS = (
    re.compile(r"variable is not set", re.IGNORECASE),
    re.compile(r"level=warn", re.IGNORECASE),
    re.compile(r"^\s*WARN", re.IGNORECASE),
)


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(p.search(line) for p in _WARNING_PATTERNS)]


def warning_texts(stderr: str, project_dir: str = "") -> tuple[str, ...]:
    """Each warning as compose's message alone: no timestamp, no level, relative paths."""
    texts = (first_error_line(line) for line in warning_lines(stderr))
    prefix = f"{project_dir.rstrip('/')}/" if project_dir else ""
    return tuple(text.replace(prefix, "") if prefix else text for text in texts)


@dataclass
class Model:
    """A rendered compose model, the profiles it was rendered with and compose's warnings."""

    data: dict[str, Any]
    profiles: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.data.get("services") or {}
        return services


@dataclass(frozen=True)
class RenderOutcome:
    """What one ``config --format json`` call produced: a model, or compose's error line."""

    profiles: tuple[str, ...]
    model: Model | None
    error: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.model is not None


# compose's answer when a file names a remote include/extends and its loader is off.
_REMOTE_DISABLED = re.compile(r"\b(git|oci) remote resource is disabled", re.IGNORECASE)


def name_remote(compose: Compose, error: str) -> str:
    """compose's "remote resource is disabled" said as which file names which remote
    reference (as written, never interpolated); any other error unchanged."""
    match = _REMOTE_DISABLED.search(error)
    if match is None:
        return error
    found = inputs_of(compose).remote  # as the files write them: a ${TOKEN} stays a name
    oci = match.group(1).lower() == "oci"
    named = [r for r in found if r.written.lower().startswith("oci://") == oci] or found
    if not named:
        return f"a remote include or extends is never fetched ({match.group(1)} loader off)"
    first = named[0]
    more = f" (and {len(named) - 1} more)" if len(named) > 1 else ""
    return (
        f"{first.referrer}: remote {'extends' if 'extends' in first.key else 'include'}"
        f" {first.written} is never fetched; vendor it into the project{more}"
    )


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The first line of a failed compose call that is not one of the warnings before it."""
    errors = [line for line in done.stderr.splitlines() if line not in warning_lines(line)]
    error = first_error_line("\n".join(errors) or done.stderr)
    return error or f"docker compose config exited {done.returncode}"


def _render_uncached(compose: Compose, profiles: tuple[str, ...]) -> RenderOutcome:
    done = compose.run(["config", "--format", "json"], profiles)
    directory = str(compose.project.directory)
    warnings = warning_texts(done.stderr, directory)
    if done.returncode != 0:
        error = name_remote(compose, _error_line(done))
        return RenderOutcome(profiles, None, error.replace(f"{directory}/", ""), warnings)
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        return RenderOutcome(profiles, None, f"compose printed invalid JSON: {error}", warnings)
    return RenderOutcome(profiles, Model(data, profiles, warnings), "", warnings)


# Bump when what a stored outcome means changes (its fields, how warnings are worded).
_STORE_FORMAT = "stackctl-render-1"
_CONFIG_ARGS = ("--ansi", "never", "config", "--format", "json")  # what Compose.run passes


Checked = tuple[RenderInputs, tuple[str | None, ...]]  # what ``checked_inputs`` returns


def store_key(
    compose: Compose, profiles: tuple[str, ...], checked: Checked | None = None
) -> str | None:
    """The render cache's key for this render, or None when it is not to be stored:
    not a static project, ``--no-cache``, or an input that is not a regular file.

    Takes the project's inputs from ``checked``, else walks them (``checked_inputs``),
    so it refuses what a render would refuse, before anything is read from the cache."""
    project = compose.project
    if not (project.static and project.use_render_cache and compose.binary.identity):
        return None
    inputs, contents = checked or checked_inputs(compose)
    digest = hashlib.sha256()

    def part(text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        digest.update(b"%d:" % len(data) + data)  # length-prefixed: no two lists collide

    part(_STORE_FORMAT)
    for word in (*compose.binary.identity, compose.binary.version_text):
        part(word)
    for word in compose.command(_CONFIG_ARGS, profiles):  # directory, -f, --env-file, ...
        part(word)
    for name, value in sorted(compose.environment().items()):
        part(name)
        part(value)
    for path, content in zip(inputs.paths, contents, strict=True):
        if content is None:
            return None
        part(str(path))
        part(content)
    return digest.hexdigest()


def _stored(outcome: RenderOutcome) -> dict[str, Any]:
    model = outcome.model
    return {
        "profiles": list(outcome.profiles),
        "data": None if model is None else model.data,
        "error": outcome.error,
        "warnings": list(outcome.warnings),
    }


def _restored(value: Any, profiles: tuple[str, ...]) -> RenderOutcome | None:
    """A stored outcome, or None when it is not one of ours (a miss, never an error)."""
    if not isinstance(value, dict) or value.get("profiles") != list(profiles):
        return None
    data, error, warnings = value.get("data"), value.get("error"), value.get("warnings")
    if not isinstance(error, str) or not isinstance(warnings, list):
        return None
    if not all(isinstance(text, str) for text in warnings) or (data is None) != bool(error):
        return None
    if data is not None and not isinstance(data, dict):
        return None
    texts = tuple(warnings)
    model = None if data is None else Model(data, profiles, texts)
    return RenderOutcome(profiles, model, error, texts)


def _render(compose: Compose, profiles: tuple[str, ...]) -> tuple[RenderOutcome, bool]:
    """The render of ``profiles`` and whether it came from the render cache (no compose)."""
    # A static render's inputs are walked first: nothing outside the project is ever
    # opened, and the same walk and digests make the cache key.
    checked = checked_inputs(compose) if compose.project.static else None
    key = store_key(compose, profiles, checked)
    if key is not None:
        stored = _restored(render_store.load(key), profiles)
        if stored is not None:
            return stored, True
    outcome = _render_uncached(compose, profiles)
    # Stored only when no input changed while compose read them: else the entry
    # could hold a model of other bytes than its key names.
    if key is not None and store_key(compose, profiles) == key:
        render_store.save(key, _stored(outcome))
    return outcome, False


class _RenderCache:
    """Futures by render key: the first caller renders, later callers wait for its result."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.futures: dict[tuple[object, ...], Future[RenderOutcome]] = {}
        self.renders = 0  # how many compose processes actually ran
        self.stored = 0  # how many renders the on-disk render cache answered

    @staticmethod
    def key(compose: Compose, profiles: tuple[str, ...]) -> tuple[object, ...]:
        project = compose.project
        return (
            compose.binary.argv,
            str(project.directory),
            tuple(str(path) for path in project.compose_files),
            str(project.env_file),
            profiles,
            tuple(sorted(compose.extra_env.items())),
            project.static,  # another environment: another render
            project.use_render_cache,
        )

    def get(self, compose: Compose, profiles: tuple[str, ...]) -> RenderOutcome:
        key = self.key(compose, profiles)
        with self.lock:
            future = self.futures.get(key)
            owner = future is None
            if future is None:
                future = self.futures[key] = Future()
        if owner:
            try:
                outcome, from_store = _render(compose, profiles)
            except BaseException as error:  # waiting threads must see it too
                future.set_exception(error)
                raise
            with self.lock:
                if from_store:
                    self.stored += 1
                else:
                    self.renders += 1
            future.set_result(outcome)
        return future.result()

    def peek(self, compose: Compose, profiles: tuple[str, ...]) -> RenderOutcome | None:
        """A finished render of ``profiles``, if this cache already holds one."""
        with self.lock:
            future = self.futures.get(self.key(compose, profiles))
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()


_active_cache: _RenderCache | None = None


@contextmanager
def render_cache() -> Iterator[_RenderCache]:
    """Share renders inside this block (one command or one process); nesting reuses it."""
    global _active_cache
    if _active_cache is not None:
        yield _active_cache
        return
    _active_cache = _RenderCache()
    try:
        yield _active_cache
    finally:
        _active_cache = None


@contextmanager
def fresh_render_cache() -> Iterator[_RenderCache]:
    """A new cache for this block and the outer one back after it: for renders that must
    see files changed since the outer cache rendered them (``fix`` proving its edits)."""
    global _active_cache
    outer, _active_cache = _active_cache, _RenderCache()
    try:
        yield _active_cache
    finally:
        _active_cache = outer


def render_outcome(compose: Compose, profiles: Sequence[str] = ()) -> RenderOutcome:
    """Render ``profiles`` (through the active cache, if any); never raises for compose errors."""
    key = tuple(profiles)
    if _active_cache is None:
        return _render(compose, key)[0]
    return _active_cache.get(compose, key)


def render_ahead(compose: Compose, *selections: Sequence[str]) -> None:
    """Start renders of ``selections`` on daemon threads, so compose works while Python
    imports or asks the engine. Inside ``render_cache()`` a later ``render_outcome`` of the
    same selection waits for this one, and an error it raised reaches that caller."""

    def quietly(profiles: tuple[str, ...]) -> None:
        with contextlib.suppress(BaseException):  # the later caller sees it, from the cache
            render_outcome(compose, profiles)

    for profiles in selections:
        threading.Thread(
            target=quietly, args=(tuple(profiles),), name="render-ahead", daemon=True
        ).start()


def cached_outcome(compose: Compose, profiles: Sequence[str]) -> RenderOutcome | None:
    """The render of ``profiles`` the active cache already holds, without rendering."""
    return None if _active_cache is None else _active_cache.peek(compose, tuple(profiles))


def render(compose: Compose, profiles: Sequence[str] = (), *, strict: bool = False) -> Model:
    """Render the model for ``profiles``; compose's own error line on failure.

    The model carries compose's warnings. With ``strict`` a warning (for example
    an unset variable) is an error too.
    """
    outcome = render_outcome(compose, profiles)
    if outcome.model is None:
        raise RenderError(outcome.error)
    if strict and outcome.warnings:
        raise RenderError(outcome.warnings[0])
    return outcome.model


def require_known_profiles(compose: Compose, requested: Sequence[str]) -> None:
    """Fail with the list of known profiles when a requested one does not exist.

    The full render (``--profile '*'``), which most commands need anyway, names
    every profile; ``config --profiles`` is only asked when it cannot render.
    """
    if not requested:
        return
    full = render_outcome(compose, ("*",))
    if full.model is not None:
        known = {p for spec in full.model.services.values() for p in spec.get("profiles") or ()}
        check_known(requested, known)
    else:
        check_known(requested, list_profiles(compose))


def list_profiles(compose: Compose) -> tuple[str, ...]:
    """Every profile any service declares (``config --profiles``)."""
    if compose.project.static:
        require_within(compose)
    done = compose.run(["config", "--profiles"])
    if done.returncode != 0:
        raise RenderError(name_remote(compose, _error_line(done)))
    return tuple(line.strip() for line in done.stdout.splitlines() if line.strip())
