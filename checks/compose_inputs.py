"""Every file a ``docker compose config`` of a project reads, found from the files alone.

Compose reads more than the files given with ``-f``: what they ``include`` (with
each include's own env file, or the ``.env`` in the included project's folder),
the files services ``extends``, each service's ``env_file`` and ``label_file``,
and the project's env file. This module walks those references the way compose
resolves them (relative folders, ``${VAR}`` interpolation from the env file and
the environment given) without running compose, so a caller can

- refuse a render that would read outside the project or load a ``.env``
  (``stackctl``'s project boundary), and
- key a cache on the content of everything a render depends on.

It never merges anything: the render does that. Files that the model only names
(a secret's or config's ``file``) are ``referenced``: ``config`` does not read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks import compose_files
from checks.compose_files import (
    COMPOSE_MAX_BYTES,
    InputRefused,
    is_remote,
    parse_env_file,
    read_bounded,
    read_text,
)
from checks.conventions import default_compose_files

DOTENV = ".env"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


def _braced_end(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` that opens before ``start`` (-1: none)."""
    depth = 1
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with compose's interpolation applied from ``variables`` (unset: empty).

    ``${NAME}``, ``$NAME``, ``$$`` (a literal dollar) and the operators ``:-``, ``-``,
    ``:+``, ``+``, ``:?``, ``?``, whose argument may itself hold ``${...}``.
    """
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$" or index + 1 == len(text):
            out.append(char)
            index += 1
            continue
        following = text[index + 1]
        if following == "$":
            out.append("$")
            index += 2
            continue
        if following != "{":
            bare = _NAME.match(text, index + 1)
            if bare is None:
                out.append(char)
                index += 1
                continue
            out.append(variables.get(bare.group(), ""))
            index = bare.end()
            continue
        end = _braced_end(text, index + 2)
        name = _NAME.match(text, index + 2)
        if end < 0 or name is None:
            out.append(text[index:])  # compose refuses it; nothing to resolve
            break
        rest = text[name.end() : end]
        value = variables.get(name.group())
        operator = next((op for op in _OPERATORS if rest.startswith(op)), "")
        argument = rest[len(operator) :]
        is_set = value is not None and (value != "" or not operator.startswith(":"))
        if operator.endswith("-"):
            out.append(value if is_set and value is not None else interpolate(argument, variables))
        elif operator.endswith("+"):
            out.append(interpolate(argument, variables) if is_set else "")
        else:  # plain, or "?" (compose fails the render itself when unset)
            out.append(value or "")
        index = end + 1
    return "".join(out)


@dataclass(frozen=True)
class InputReference:
    """One file a render depends on, and who names it.

    ``referrer`` is the file that names it (relative to the project when inside it),
    or ``"--file"``/``"--env-file"`` for what the user gave; ``key`` says where
    (``include``, ``services.web.env_file``, ...); ``written`` is the text as the
    file spells it; ``path`` is absolute with every symlink resolved.
    """

    referrer: str
    key: str
    written: str
    path: Path
    given: bool = False  # named on the command line by the user, not by a project file

    @property
    def where(self) -> str:
        return f"{self.referrer} ({self.key}: {self.written})" if not self.given else self.key


@dataclass(frozen=True)
class RenderInputs:
    """What a render of the project reads, and what its files name without being read."""

    project_dir: Path
    read: tuple[InputReference, ...] = ()
    referenced: tuple[InputReference, ...] = ()
    remote: tuple[InputReference, ...] = ()  # git or OCI; never fetched
    dotenv: tuple[InputReference, ...] = ()  # a .env compose loads by default (in ``read`` too)
    refused: tuple[tuple[str, str], ...] = ()  # (file, why): a compose file over a bound

    @property
    def outside(self) -> tuple[InputReference, ...]:
        """Files a project file makes compose read from outside the project."""
        return self.outside_of(self.project_dir)

    def outside_of(self, folder: Path) -> tuple[InputReference, ...]:
        """Files a project file makes compose read from outside ``folder``."""
        root = _resolve(folder)
        return tuple(r for r in self.read if not r.given and not _within(root, r.path))

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every distinct file read, in the order first met."""
        return tuple(dict.fromkeys(r.path for r in self.read))


def _within(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: keep it as written, outside-checkable
        return path.absolute()


def _strings(value: Any) -> list[str]:
    """A string, a list of strings, or a list of ``{path: ...}`` entries, as paths."""
    items = value if isinstance(value, list) else [value]
    paths = []
    for item in items:
        path = item.get("path") if isinstance(item, Mapping) else item
        if isinstance(path, str) and path:
            paths.append(path)
    return paths


def _load_yaml(path: Path) -> tuple[Mapping[str, Any], str]:
    """A compose file's data, and why it was refused ("" if not): over the size bound,
    or over a depth or alias bound of the YAML reader (read and parsed as the facts
    reader does, and once per text per run: ``compose_files.parse_compose_text``)."""
    try:
        text = read_bounded(path.parent, path.name, COMPOSE_MAX_BYTES, "a compose file")
    except InputRefused as refused:
        return {}, refused.problem
    data, _, refused_why = compose_files.parse_compose_text(text)
    return (data if isinstance(data, Mapping) else {}), refused_why


@dataclass
class _Walk:
    project_dir: Path
    environment: Mapping[str, str]
    read: list[InputReference] = field(default_factory=list)
    referenced: list[InputReference] = field(default_factory=list)
    remote: list[InputReference] = field(default_factory=list)
    dotenv: list[InputReference] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    walked: set[tuple[Path, Path]] = field(default_factory=set)

    def name(self, path: Path) -> str:
        resolved = _resolve(path)
        if _within(self.project_dir, resolved):
            return resolved.relative_to(self.project_dir).as_posix() or "."
        return resolved.as_posix()

    def add(
        self,
        into: list[InputReference],
        referrer: str,
        key: str,
        written: str,
        base: Path,
        variables: Mapping[str, str] | None = None,
        given: bool = False,
        *,
        home: bool = False,
    ) -> Path:
        """Record ``written`` (kept as the file spells it: a ``${TOKEN}`` stays a name)
        and return where it leads, interpolated and resolved. With ``home`` a leading
        ``~`` is the home folder, as compose reads a service's env_file and label_file
        (not include or extends paths: checked against compose 5.6.1)."""
        target = written if variables is None else interpolate(written, variables)
        if home and target.startswith("~"):
            folder = self.environment.get("HOME") or str(Path.home())
            target = str(Path(folder) / target[1:].lstrip("/"))
        path = _resolve(base / target)
        into.append(InputReference(referrer, key, written, path, given))
        return path

    def env_values(self, files: Iterable[Path]) -> dict[str, str]:
        values: dict[str, str] = {}
        for path in files:
            values.update(parse_env_file(read_text(path)))  # "" when it is not a file
        return values

    def compose_file(self, path: Path, working_dir: Path, variables: Mapping[str, str]) -> None:
        """Walk one loaded compose file: its includes, extends and per-service files."""
        if (path, working_dir) in self.walked:  # compose refuses cycles; never loop here
            return
        self.walked.add((path, working_dir))
        data, refused = _load_yaml(path)
        referrer = self.name(path)
        if refused:
            self.refused.append((referrer, refused))
        # include and extends paths are relative to the project's working folder (the
        # project directory, an include's project_directory, or an extended file's folder),
        # not to the file that names them: compose 2.24.6+ and 5.x, checked by render
        for entry in data.get("include") or [] if isinstance(data.get("include"), list) else []:
            self.include(entry, referrer, working_dir, variables)
        services = data.get("services")
        for service, spec in services.items() if isinstance(services, Mapping) else []:
            if isinstance(spec, Mapping):
                self.service(str(service), spec, referrer, working_dir, variables)
        for kind in ("secrets", "configs"):
            declared = data.get(kind)
            for name, spec in declared.items() if isinstance(declared, Mapping) else []:
                if isinstance(spec, Mapping) and isinstance(spec.get("file"), str):
                    key = f"{kind}.{name}.file"
                    self.add(self.referenced, referrer, key, spec["file"], working_dir, variables)

    def include(self, entry: Any, referrer: str, base: Path, variables: Mapping[str, str]) -> None:
        spec = entry if isinstance(entry, Mapping) else {"path": entry}
        paths = _strings(spec.get("path"))
        local = []
        for written in paths:
            if is_remote(interpolate(written, variables)):
                self.remote.append(InputReference(referrer, "include", written, Path(written)))
            else:
                local.append(self.add(self.read, referrer, "include", written, base, variables))
        if not local:
            return
        directory = spec.get("project_directory")
        working_dir = (
            _resolve(base / interpolate(directory, variables))
            if isinstance(directory, str) and directory
            else local[0].parent
        )
        env_files = [
            self.add(self.read, referrer, "include.env_file", w, base, variables)
            for w in _strings(spec.get("env_file"))
        ]
        if not env_files and (working_dir / DOTENV).is_file():
            # compose loads the included project's own .env when the entry names none
            written = (
                (Path(directory) / DOTENV).as_posix()
                if isinstance(directory, str)
                else (Path(paths[0]).parent / DOTENV).as_posix()
            )
            env_files = [
                self.add(self.read, referrer, "include (its .env)", written, base, variables)
            ]
            self.dotenv.append(self.read[-1])
        scoped = {**variables, **self.env_values(env_files)}
        for path in local:
            self.compose_file(path, working_dir, scoped)

    def service(
        self,
        service: str,
        spec: Mapping[str, Any],
        referrer: str,
        working_dir: Path,
        variables: Mapping[str, str],
    ) -> None:
        extends = spec.get("extends")
        if isinstance(extends, Mapping) and isinstance(extends.get("file"), str):
            written = extends["file"]
            key = f"services.{service}.extends.file"
            if is_remote(interpolate(written, variables)):
                self.remote.append(InputReference(referrer, key, written, Path(written)))
            else:
                target = self.add(self.read, referrer, key, written, working_dir, variables)
                # an extended file's relative paths are its own folder's
                self.compose_file(target, target.parent, variables)
        for key in ("env_file", "label_file"):
            for written in _strings(spec.get(key)):
                self.add(
                    self.read,
                    referrer,
                    f"services.{service}.{key}",
                    written,
                    working_dir,
                    variables,
                    home=True,
                )


def render_inputs(
    project_dir: Path,
    files: Sequence[Path | str] = (),
    env_file: Path | None = None,
    *,
    environment: Mapping[str, str] | None = None,
    given_files: bool = False,
    given_env_file: bool = False,
) -> RenderInputs:
    """Every file ``docker compose config`` reads for this project, found from the files.

    ``files`` default to the ones compose picks; ``env_file`` None means compose's
    default (the project's ``.env``, when it exists). ``environment`` is what the
    compose child sees, for ``${VAR}`` in paths; it wins over the env file's values,
    as in compose. ``given_*`` mark what the user named on the command line.
    """
    root = _resolve(project_dir)
    walk = _Walk(root, dict(environment or {}))
    compose_files = [root / f for f in files] or [root / n for n in default_compose_files(root)]
    if env_file is None:
        if (root / DOTENV).is_file():
            walk.add(walk.read, "compose", "the project's .env", DOTENV, root)
            walk.dotenv.append(walk.read[-1])
        env_paths = [root / DOTENV]
    else:
        walk.add(walk.read, "--env-file", "--env-file", str(env_file), root, given=given_env_file)
        env_paths = [env_file if env_file.is_absolute() else root / env_file]
    # compose: a variable set in the environment wins over the env file's value
    variables = {**walk.env_values(env_paths), **walk.environment}
    for path in compose_files:
        resolved = walk.add(walk.read, "--file", "--file", str(path), root, given=given_files)
        walk.compose_file(resolved, root, variables)
    return RenderInputs(
        root,
        tuple(walk.read),
        tuple(walk.referenced),
        tuple(walk.remote),
        tuple(walk.dotenv),
        tuple(walk.refused),
    )
