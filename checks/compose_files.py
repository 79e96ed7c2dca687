"""Compose files as written: the raw YAML, its includes and extends, env files.

What compose itself reads, read the same way and bounded, but never merged (the
render does that). Shared by the walk of a render's inputs (``checks.compose_inputs``,
which the project model uses for its boundary, its render cache and to name a remote
reference compose refused) and by the facts the rules see (``checks.stack``); it
knows nothing about rules.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from checks.conventions import DEFAULT_COMPOSE_FILES
from checks.locate import SAFE_LOADER, BoundExceeded, Locator

IGNORED_DIRS = {".git", ".nox", ".venv", "node_modules", "tests", "secrets", "build"}
COMPOSE_NAMES = frozenset(DEFAULT_COMPOSE_FILES)
# The largest compose file read: some 60 times a 400-service stack in one file. Compose
# would take longer; the facts would cost seconds and hundreds of MB per such file.
COMPOSE_MAX_BYTES = 4 * 1024 * 1024
ENV_MAX_BYTES = 1024 * 1024  # .env.example: a list of variables


class InputRefused(Exception):
    """A file the run must read is over one of its bounds; ``problem`` names the bound."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file} {problem}")
        self.file = file
        self.problem = problem


def size_problem(size: int, limit: int, kind: str) -> str:
    """How a file over its size bound is described, after its name."""
    return f"is {size / 1048576:.1f} MiB, over the {limit / 1048576:g} MiB bound for {kind}"


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` pairs of an env file, read as leniently as compose reads them.

    A byte-order mark, ``export`` prefixes, CRLF endings, quotes and `` #`` comments
    after an unquoted value are tolerated; a quoted value may span lines.
    """
    values: dict[str, str] = {}
    lines = iter(text.removeprefix("\ufeff").splitlines())
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export") and key[6:7].isspace():
            key = key[6:].strip()
        value = value.strip()
        quote = value[:1]
        if quote in {"'", '"'}:
            while len(value) < 2 or not value.endswith(quote):
                following = next(lines, None)
                if following is None:
                    break
                value += "\n" + following.rstrip("\r")
            value = value[1:-1] if len(value) >= 2 and value.endswith(quote) else value[1:]
        else:
            value = value.split(" #", 1)[0].rstrip()  # an inline comment, as compose reads it
        values[key] = value
    return values


def include_entries(data: Mapping[str, Any]) -> list[list[str]]:
    """The ``include:`` entries of one raw compose file, each as its list of paths.

    The short form (a string), the long form (``path:`` a string) and the long form
    with a list of paths (merged by compose as one unit, later ones overriding) are
    all accepted; anything else is ignored here and left for compose to reject.
    """
    entries: list[list[str]] = []
    for entry in data.get("include") or [] if isinstance(data, Mapping) else []:
        value = entry.get("path") if isinstance(entry, Mapping) else entry
        paths = [value] if isinstance(value, str) else value
        if isinstance(paths, list):
            entries.append([str(p) for p in paths if isinstance(p, str)])
    return entries


def include_paths(root: Mapping[str, Any]) -> list[str]:
    """The paths a file includes, in order (string and long ``path:`` forms)."""
    return [path for entry in include_entries(root) for path in entry]


def extends_files(data: Mapping[str, Any]) -> list[str]:
    """The files the services of one raw compose file extend (``extends.file``)."""
    services = data.get("services") if isinstance(data, Mapping) else None
    files: list[str] = []
    for spec in (services or {}).values() if isinstance(services, Mapping) else []:
        extends = spec.get("extends") if isinstance(spec, Mapping) else None
        if isinstance(extends, Mapping) and isinstance(extends.get("file"), str):
            files.append(extends["file"])
    return files


def raw_service(documents: Mapping[str, Any], file: str, service: str) -> Mapping[str, Any]:
    """``services.<service>`` of one raw compose file as written ({} when absent)."""
    document = documents.get(file)
    services = document.get("services") if isinstance(document, Mapping) else None
    spec = services.get(service) if isinstance(services, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def extends_of(file: str, spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (file, service) a raw service in ``file`` extends, the file relative to the
    project as compose resolves it (from the extending file's folder); None when it
    extends nothing, or in a form compose would refuse."""
    extends = spec.get("extends")
    if isinstance(extends, str):
        return file, extends
    if not isinstance(extends, Mapping) or not isinstance(extends.get("service"), str):
        return None
    target = extends.get("file")
    if not isinstance(target, str) or not target:
        return file, extends["service"]
    return posixpath.normpath(posixpath.join(posixpath.dirname(file), target)), extends["service"]


def is_remote(path: str) -> bool:
    return "://" in path or path.startswith("git@")


def declared_services(relative: str, locator: Locator, data: Any) -> dict[str, tuple[str, int]]:
    """Service name -> (file, line) for the services a compose file declares itself."""
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, Mapping):
        return {}
    return {str(name): (relative, locator.line(["services", str(name)])[0]) for name in services}


@lru_cache(maxsize=256)
def parse_compose_text(text: str) -> tuple[Any, Locator, str]:
    """One compose file's data, its locator, and why it was refused ("" if not): ONE parse.

    Memoized by text: the walk of a render's inputs (``checks.compose_inputs``) and the
    facts reader parse the same files in one run. Callers only read the result.

    The data is what ``yaml.safe_load`` gives, or {} when the text is not YAML
    (compose reports the syntax error itself, with its line) or is over a bound of
    ``checks.locate`` (depth, alias expansion): then the third value says which. The
    locator is indexed before the data is built: building resolves ``<<`` merges in
    the node tree itself, and lines are the file's own.
    """
    loader = SAFE_LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            return {}, Locator(None), ""
        except BoundExceeded as bound:
            return {}, Locator(None), str(bound)
        locator = Locator(node)
        try:
            return (loader.construct_document(node) if node is not None else {}), locator, ""
        except yaml.YAMLError:
            return {}, locator, ""
    finally:
        loader.dispose()


def find_compose_files(project_dir: Path) -> list[Path]:
    """Compose files of the project; a symlink leading outside the project is never followed."""
    found = []
    # os.walk prunes ignored folders (.git, node_modules, ...) instead of listing them
    # first; it never descends through a symlinked folder.
    for folder, subfolders, names in os.walk(project_dir):
        subfolders[:] = [name for name in subfolders if name not in IGNORED_DIRS]
        for name in names:
            path = Path(folder, name)
            if name in COMPOSE_NAMES and path.is_file() and inside(project_dir, path) is not None:
                found.append(path)
    return sorted(found)


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    """At most ``limit + 1`` bytes of a regular file (all without a limit); b"" when it is
    not a file or cannot be read. Never opens a FIFO or device: it could block."""
    try:
        if not path.is_file():
            return b""
        with path.open("rb") as stream:
            return stream.read() if limit is None else stream.read(limit + 1)
    except OSError:
        return b""


def read_text(path: Path) -> str:
    """A file's text for facts and locations; unreadable or non-UTF-8 bytes never stop a check.

    Compose itself rejects a file it loads that cannot be read.
    """
    return _read_bytes(path).decode("utf-8", errors="replace")


def read_bounded(project_dir: Path, relative: str, limit: int, kind: str) -> str:
    """The text of a file the run needs, or ``InputRefused`` when it is over ``limit``
    bytes (only ``limit + 1`` of them are ever read)."""
    path = project_dir / relative
    data = _read_bytes(path, limit)
    if len(data) > limit:
        try:
            size = max(path.stat().st_size, len(data))
        except OSError:
            size = len(data)
        raise InputRefused(relative, size_problem(size, limit, kind))
    return data.decode("utf-8", errors="replace")


# ROOT-003 needs to know whether a compose file nothing loads declares services; that
# is looked up in the first MiB of its bytes, never parsed (a vendored copy may be huge).
UNLOADED_SCAN_BYTES = 1024 * 1024
_TOP_LEVEL_SERVICES = re.compile(rb"^(?:services|\"services\"|'services')[ \t]*:", re.MULTILINE)


def declares_services(path: Path) -> bool:
    """Whether a file's first ``UNLOADED_SCAN_BYTES`` hold a top-level ``services:`` key."""
    try:
        with path.open("rb") as stream:
            head = stream.read(UNLOADED_SCAN_BYTES)
    except OSError:
        return False
    return _TOP_LEVEL_SERVICES.search(head) is not None


class Reader:
    """Reads the files compose loads once each: the given files, what they include (in
    load order) and the files their services extend, each within ``COMPOSE_MAX_BYTES``
    and the YAML bounds. A file over a bound is refused with ``InputRefused``: compose
    loads it, so the facts would be wrong without it."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.raw: dict[str, Mapping[str, Any]] = {}
        self.texts: dict[str, str] = {}
        self.locators: dict[str, Locator] = {}  # path -> lines of its keys, from the same parse
        self.order: list[str] = []
        self.declarations: dict[str, list[Declaration]] = {}
        self.units = 0
        self.parses = 0  # YAML parses run (one per file read)

    def read(self, relative: str) -> Mapping[str, Any]:
        if relative not in self.raw:
            text = read_bounded(self.project_dir, relative, COMPOSE_MAX_BYTES, "a compose file")
            self.parses += 1
            data, locator, refused = parse_compose_text(text)
            if refused:
                raise InputRefused(relative, refused)
            self.locators[relative] = locator
            self.texts[relative] = text
            self.raw[relative] = data if isinstance(data, Mapping) else {}
        return self.raw[relative]

    def read_optional(self, relative: str) -> None:
        """Read a file compose may not load (a conventional template file): over a bound,
        it is left out rather than ending the run."""
        with contextlib.suppress(InputRefused):
            self.read(relative)

    def _extended(self, relative: str) -> None:
        """Read the files the services of ``relative`` extend, and theirs in turn."""
        pending = [relative]
        while pending:
            current = pending.pop()
            base = (self.project_dir / current).parent
            for template in extends_files(self.raw[current]):
                target = None if is_remote(template) else inside(self.project_dir, base / template)
                if target is not None and target not in self.raw:
                    self.read(target)  # read for locations and variables; compose loads it
                    pending.append(target)

    def load(self, relative: str, unit: int) -> None:
        if relative in self.order:  # compose refuses include cycles; never loop here
            return
        data = self.read(relative)
        self.order.append(relative)
        for name, (file, line) in declared_services(
            relative, self.locators[relative], data
        ).items():
            self.declarations.setdefault(name, []).append(Declaration(file, line, unit))
        self._extended(relative)
        base = (self.project_dir / relative).parent
        for entry in include_entries(data):
            self.units += 1
            for path in entry:
                target = None if is_remote(path) else inside(self.project_dir, base / path)
                if target is not None:
                    self.load(target, self.units)


@dataclass(frozen=True)
class Declaration:
    """Where one compose file declares a service, and which include unit it belongs to.

    The files given with ``-f`` form one unit (later files override earlier ones on
    purpose), and so do the paths of one long-form ``include`` entry; every other
    include entry is a unit of its own, whose services compose resolves silently.
    """

    file: str
    line: int
    unit: int


def inside(project_dir: Path, path: Path) -> str | None:
    """``path`` relative to the project, or None when it resolves outside of it."""
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
        return None
