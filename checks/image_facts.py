"""What is inside each pinned image: the facts records in ``infra/image-facts/*.yml``.

Nothing here can pull an image, so each record states, for one exact reference,
what a review of the image's own Dockerfile, entrypoint and docs found, and
every fact names where it came from. This module is pure: ``ProjectFacts.read``
hands it the file texts, it returns typed records plus the problems it found
(a malformed record is a finding of IMG-002, never an exception).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from checks.locate import SAFE_LOADER, BoundExceeded

FACTS_DIR = "infra/image-facts"
# A record states a few dozen facts; a bigger file is refused (an IMG-002 finding) unread.
FACTS_MAX_BYTES = 256 * 1024
SHELL_KINDS = frozenset({"bash", "dash", "busybox", "ash", "none"})
SWITCHERS = frozenset({"gosu", "su-exec", "setpriv", "s6", "none"})
REQUIRED_KEYS = (
    "image",
    "reviewed",
    "sources",
    "shell",
    "tools",
    "user",
    "entrypoint",
    "file_capabilities",
    "file_env",
    "writable_paths",
)
# A source is a URL or ``owner/repo@<tag or commit>:path``.
URL_RE = re.compile(r"https?://\S+")
REPO_PATH_RE = re.compile(r"[\w.-]+/[\w.-]+@[\w./+-]+:\S+")
OWNER_RE = re.compile(r"\d+(?::\d+)?")
CAPABILITY_RE = re.compile(r"[A-Z][A-Z_]*")


@dataclass(frozen=True)
class Tool:
    name: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class FileCapability:
    path: str
    capabilities: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class PathFact:
    path: str
    source: str
    owner: str = ""  # uid:gid, for state paths


@dataclass(frozen=True)
class PortFact:
    port: int
    source: str


@dataclass(frozen=True)
class UserFacts:
    default: str  # uid:gid of the Dockerfile's USER ("0:0" without one)
    runtime: str  # uid:gid the main process ends up with when compose sets no user:
    source: str


@dataclass(frozen=True)
class EntrypointFacts:
    needs_root: bool
    switches_with: str
    chowns: tuple[str, ...]
    runs_as_any_user: bool
    source: str


@dataclass(frozen=True)
class FileEnvFacts:
    honoured: frozenset[str]
    not_honoured: frozenset[str]
    source: str


@dataclass(frozen=True)
class ImageFacts:
    """One reviewed image at one exact reference."""

    image: str
    file: str  # the record's path, relative to the project
    reviewed: str
    sources: Mapping[str, str]
    shell: str
    shell_source: str
    tools: tuple[Tool, ...]
    user: UserFacts
    entrypoint: EntrypointFacts
    file_capabilities: tuple[FileCapability, ...]
    file_env: FileEnvFacts
    writable_paths: tuple[PathFact, ...]
    state: tuple[PathFact, ...] = ()
    ports: tuple[PortFact, ...] = ()
    notes: str = ""

    @property
    def has_shell(self) -> bool:
        return self.shell != "none"

    def honours(self, variable: str) -> bool:
        """True when the record says the image reads ``variable`` (``GF_*__FILE`` patterns
        cover apps that read every variable of a family from a file)."""
        return any(fnmatch.fnmatchcase(variable, name) for name in self.file_env.honoured)

    def ships(self, command: str) -> bool:
        """True when ``command`` (a name or a path) is one of the image's recorded tools."""
        base = command.rsplit("/", 1)[-1]
        return any(
            command == tool.name or base == tool.name.rsplit("/", 1)[-1] for tool in self.tools
        )

    def state_owner(self, target: str) -> str:
        """The owner the record gives a state path, else the runtime user."""
        for fact in self.state:
            if fact.owner and fact.path.rstrip("/") == target.rstrip("/"):
                return fact.owner
        return self.user.runtime

    def cite(self, source: str) -> str:
        """A fact's source as a reader can follow it: the named source's value, or the URL."""
        return self.sources.get(source, source)


@dataclass(frozen=True)
class FactsProblem:
    file: str
    message: str


@dataclass(frozen=True)
class ImageCatalogue:
    """Every facts record of a project, keyed by the exact image reference."""

    records: Mapping[str, ImageFacts] = field(default_factory=dict)
    problems: tuple[FactsProblem, ...] = ()
    broken: Mapping[str, str] = field(default_factory=dict)  # image -> file of a bad record
    files: tuple[str, ...] = ()  # every record file that was read

    @property
    def active(self) -> bool:
        """Image rules apply only to a project that keeps at least one facts record."""
        return bool(self.files)

    def get(self, image: str) -> ImageFacts | None:
        return self.records.get(image)

    def repository_records(self, image: str) -> list[str]:
        """References recorded for the same repository under another tag (a tag bump)."""
        repository = image_repository(image)
        return sorted(
            other
            for other in [*self.records, *self.broken]
            if other != image and image_repository(other) == repository
        )


def image_repository(image: str) -> str:
    rest = image.partition("@")[0]
    slash, colon = rest.rfind("/"), rest.rfind(":")
    return rest[:colon] if colon > slash else rest


class _Reader:
    """Reads one record, collecting every problem instead of stopping at the first."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []
        raw_sources = data.get("sources")
        self.sources: dict[str, str] = {}
        if not isinstance(raw_sources, Mapping) or not raw_sources:
            self.problems.append("sources must be a non-empty mapping of name to URL or repo path")
        else:
            for name, value in raw_sources.items():
                text = str(value or "")
                if not (URL_RE.fullmatch(text) or REPO_PATH_RE.fullmatch(text)):
                    self.problems.append(
                        f"source {name} is neither a URL nor owner/repo@tag:path: {text!r}"
                    )
                self.sources[str(name)] = text

    def source(self, where: str, item: Mapping[str, Any]) -> str:
        value = str(item.get("source") or "")
        if not value:
            self.problems.append(f"{where} names no source")
        elif value not in self.sources and not URL_RE.fullmatch(value):
            self.problems.append(f"{where} cites {value!r}, which is not in sources: or a URL")
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, Mapping):
            self.problems.append(f"{key} must be a mapping")
            return {}
        return value

    def items(self, key: str, required: bool = True) -> list[Mapping[str, Any]]:
        value = self.data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.problems.append(f"{key} must be a list of mappings")
            return []
        return value

    def owner(self, where: str, value: Any) -> str:
        text = str(value if value is not None else "")
        if not OWNER_RE.fullmatch(text):
            self.problems.append(f"{where} must be uid or uid:gid, got {text!r}")
        return text

    def flag(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.problems.append(f"{where} must be true or false")
            return False
        return value

    def strings(self, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problems.append(f"{where} must be a list")
            return ()
        return tuple(str(v) for v in value)


def parse_record(relative: str, data: Any) -> tuple[ImageFacts | None, list[str]]:
    """A typed record from one parsed YAML document, or None and what is wrong with it."""
    if not isinstance(data, Mapping):
        return None, ["the file is not a mapping"]
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        return None, [f"missing required keys: {', '.join(missing)}"]
    reader = _Reader(data)
    image = str(data.get("image") or "")
    if not image or any(c.isspace() for c in image):
        reader.problems.append("image must be one exact reference")
    reviewed = data.get("reviewed")
    if not isinstance(reviewed, dt.date):
        try:
            dt.date.fromisoformat(str(reviewed))
        except ValueError:
            reader.problems.append(f"reviewed must be an ISO date, got {reviewed!r}")

    shell = reader.mapping("shell")
    kind = str(shell.get("kind") or "")
    if kind not in SHELL_KINDS:
        reader.problems.append(f"shell.kind must be one of {', '.join(sorted(SHELL_KINDS))}")
    shell_source = reader.source("shell", shell)

    tools = tuple(
        Tool(
            str(t.get("name") or ""),
            reader.source(f"tool {t.get('name')}", t),
            str(t.get("note") or ""),
        )
        for t in reader.items("tools")
    )
    if any(not tool.name for tool in tools):
        reader.problems.append("every tool needs a name")

    user_data = reader.mapping("user")
    user = UserFacts(
        reader.owner("user.default", user_data.get("default")),
        reader.owner("user.runtime", user_data.get("runtime")),
        reader.source("user", user_data),
    )

    entry = reader.mapping("entrypoint")
    switcher = str(entry.get("switches_with") or "none")
    if switcher not in SWITCHERS:
        reader.problems.append(
            f"entrypoint.switches_with must be one of {', '.join(sorted(SWITCHERS))}"
        )
    entrypoint = EntrypointFacts(
        reader.flag("entrypoint.needs_root", entry.get("needs_root")),
        switcher,
        reader.strings("entrypoint.chowns", entry.get("chowns")),
        reader.flag("entrypoint.runs_as_any_user", entry.get("runs_as_any_user")),
        reader.source("entrypoint", entry),
    )

    capabilities = []
    for item in reader.items("file_capabilities"):
        caps = tuple(
            c.upper().removeprefix("CAP_")
            for c in reader.strings(
                f"file capabilities of {item.get('path')}", item.get("capabilities")
            )
        )
        if not caps or not all(CAPABILITY_RE.fullmatch(c) for c in caps):
            reader.problems.append(f"file capability {item.get('path')} needs capability names")
        if not str(item.get("path") or "").startswith("/"):
            reader.problems.append("every file capability needs an absolute path")
        where = f"file capability {item.get('path')}"
        capabilities.append(FileCapability(str(item.get("path")), caps, reader.source(where, item)))

    env = reader.mapping("file_env")
    honoured = reader.strings("file_env.honoured", env.get("honoured"))
    not_honoured = reader.strings("file_env.not_honoured", env.get("not_honoured"))
    for name in (*honoured, *not_honoured):
        if not name.endswith("_FILE"):
            reader.problems.append(f"file_env lists {name}, which does not end in _FILE")
    file_env = FileEnvFacts(
        frozenset(honoured), frozenset(not_honoured), reader.source("file_env", env)
    )

    def paths(key: str, required: bool) -> tuple[PathFact, ...]:
        found = []
        for item in reader.items(key, required):
            path = str(item.get("path") or "")
            if not path.startswith("/"):
                reader.problems.append(f"{key} entry {path!r} is not an absolute path")
            owner = item.get("owner")
            owner_text = reader.owner(f"{key} {path} owner", owner) if owner is not None else ""
            found.append(PathFact(path, reader.source(f"{key} {path}", item), owner_text))
        return tuple(found)

    writable = paths("writable_paths", True)
    state = paths("state", False)
    ports = []
    for item in reader.items("ports", required=False):
        port = item.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            reader.problems.append(f"port {port!r} is not a port number")
            continue
        ports.append(PortFact(port, reader.source(f"port {port}", item)))

    if reader.problems:
        return None, reader.problems
    return (
        ImageFacts(
            image=image,
            file=relative,
            reviewed=str(reviewed),
            sources=reader.sources,
            shell=kind,
            shell_source=shell_source,
            tools=tools,
            user=user,
            entrypoint=entrypoint,
            file_capabilities=tuple(capabilities),
            file_env=file_env,
            writable_paths=writable,
            state=state,
            ports=tuple(ports),
            notes=str(data.get("notes") or "").strip(),
        ),
        [],
    )


def parse_catalogue(
    texts: Mapping[str, str], refused: Mapping[str, str] | None = None
) -> ImageCatalogue:
    """Records from ``{relative path: YAML text}``; ``refused`` maps files not read to why."""
    records: dict[str, ImageFacts] = {}
    broken: dict[str, str] = {}
    problems = [FactsProblem(file, why) for file, why in sorted((refused or {}).items())]
    for relative, text in sorted(texts.items()):
        try:
            data = yaml.load(text, Loader=SAFE_LOADER)  # safe, and depth and alias bounded
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problems.append(FactsProblem(relative, f"is not valid YAML{where}"))
            continue
        except BoundExceeded as bound:
            problems.append(FactsProblem(relative, str(bound)))
            continue
        record, found = parse_record(relative, data)
        image = str(data.get("image") or "") if isinstance(data, Mapping) else ""
        if record is None:
            problems.extend(FactsProblem(relative, message) for message in found)
            if image:
                broken[image] = relative
            continue
        if record.image in records:
            first = records[record.image].file
            problems.append(
                FactsProblem(relative, f"records {record.image} again (first in {first})")
            )
            continue
        records[record.image] = record
    files = tuple(sorted([*texts, *(refused or {})]))
    return ImageCatalogue(records, tuple(problems), broken, files)
