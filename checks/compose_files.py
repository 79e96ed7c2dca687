"""Compose files as written: the raw YAML, its includes and extends, env files.

What compose itself reads, read the same way and bounded, but never merged (the
render does that). Shared by the project model (to name a remote reference
compose refused) and by the facts the rules see (``checks.stack``); it knows
nothing about rules.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from checks.conventions import DEFAULT_COMPOSE_FILES, default_compose_files
from checks.locate import SAFE_LOADER, Locator

IGNORED_DIRS = {".git", ".nox", ".venv", "node_modules", "tests", "secrets", "build"}
COMPOSE_NAMES = frozenset(DEFAULT_COMPOSE_FILES)


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


@dataclass(frozen=True)
class RemoteReference:
    """A remote ``include`` or ``extends.file`` as the compose file spells it.

    The text is the file's own, never interpolated: ``${TOKEN}`` stays a name.
    """

    file: str  # relative to the project
    key: str  # "include" or "extends"
    reference: str

    @property
    def oci(self) -> bool:
        return self.reference.lower().startswith("oci://")


def remote_references(project_dir: Path, files: Sequence[str] = ()) -> list[RemoteReference]:
    """Every remote ``include`` and ``extends.file`` of ``files`` (default: the files compose
    picks), of the local files they include and of the local files they extend."""
    reader = Reader(project_dir)
    given = [
        relative
        for name in files or default_compose_files(project_dir)
        if (relative := inside(project_dir, project_dir / name)) is not None
    ]
    try:
        for relative in given:
            reader.load(relative, unit=0)
    except RecursionError:
        pass  # a file too deep to read: report what was found before it
    found: list[RemoteReference] = []
    queue = list(reader.raw)
    seen = set(queue)
    while queue:
        relative = queue.pop(0)
        data = reader.raw[relative]
        found += [
            RemoteReference(relative, "include", path)
            for path in include_paths(data)
            if is_remote(path)
        ]
        base = (project_dir / relative).parent
        for template in extends_files(data):
            if is_remote(template):
                found.append(RemoteReference(relative, "extends", template))
            elif (target := inside(project_dir, base / template)) and target not in seen:
                seen.add(target)  # a template's own extends may name a remote file too
                reader.read(target)
                queue.append(target)
    return found


def declared_services(relative: str, locator: Locator, data: Any) -> dict[str, tuple[str, int]]:
    """Service name -> (file, line) for the services a compose file declares itself."""
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, Mapping):
        return {}
    return {str(name): (relative, locator.line(["services", str(name)])[0]) for name in services}


def parse_compose_text(text: str) -> tuple[Any, Locator, bool]:
    """One compose file's data, its locator, and whether it nests too deep: ONE parse.

    The data is what ``yaml.safe_load`` gives, or {} when the text is not YAML
    (compose reports the syntax error itself, with its line) or nests deeper than
    Python recurses. The locator is indexed before the data is built: building
    resolves ``<<`` merges in the node tree itself, and lines are the file's own.
    """
    loader = SAFE_LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            return {}, Locator(None), False
        except RecursionError:
            return {}, Locator(None), True
        locator = Locator(node)
        try:
            return (loader.construct_document(node) if node is not None else {}), locator, False
        except yaml.YAMLError:
            return {}, locator, False
        except RecursionError:
            return {}, locator, True
    finally:
        loader.dispose()


def find_compose_files(project_dir: Path) -> list[Path]:
    """Compose files of the project; a symlink leading outside the project is never followed."""
    found = []
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if any(part in IGNORED_DIRS for part in relative.parts[:-1]):
            continue
        if path.name in COMPOSE_NAMES and path.is_file() and inside(project_dir, path) is not None:
            found.append(path)
    return found


def read_text(path: Path) -> str:
    """A file's text for facts and locations; unreadable or non-UTF-8 bytes never stop a check.

    Compose itself rejects a file it loads that cannot be read; files found on
    disk that nothing loads (a data folder, a vendored copy) must not matter.
    """
    try:
        return path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


class Reader:
    """Reads compose files once each, following ``include`` from the files compose loads."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.raw: dict[str, Mapping[str, Any]] = {}
        self.texts: dict[str, str] = {}
        self.locators: dict[str, Locator] = {}  # path -> lines of its keys, from the same parse
        self.order: list[str] = []
        self.declarations: dict[str, list[Declaration]] = {}
        self.units = 0
        self.too_deep: set[str] = set()

    def read(self, relative: str) -> Mapping[str, Any]:
        if relative not in self.raw:
            text = read_text(self.project_dir / relative)
            data, self.locators[relative], too_deep = parse_compose_text(text)
            if too_deep:
                self.too_deep.add(relative)
            self.texts[relative] = text
            self.raw[relative] = data if isinstance(data, Mapping) else {}
        return self.raw[relative]

    def load(self, relative: str, unit: int) -> None:
        if relative in self.order:  # compose refuses include cycles; never loop here
            return
        data = self.read(relative)
        if relative in self.too_deep:
            # A file compose loads but Python cannot parse: stop rather than judge it empty.
            raise RecursionError(f"{relative} nests deeper than the YAML reader can follow")
        self.order.append(relative)
        for name, (file, line) in declared_services(
            relative, self.locators[relative], data
        ).items():
            self.declarations.setdefault(name, []).append(Declaration(file, line, unit))
        base = (self.project_dir / relative).parent
        for template in extends_files(data):
            target = inside(self.project_dir, base / template)
            if target is not None:
                self.read(target)  # read for locations and variables; compose loads it
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
