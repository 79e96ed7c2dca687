"""The fixes a finding can have, as edits of a compose file's text. Pure: no I/O.

A fix never re-emits a file. The round-trip parser (ruamel.yaml) says where each
node starts and ends, and the fix splices a few characters in at those places, so
every byte it does not touch (comments, key order, quoting, anchors, blank lines,
indentation) stays exactly as written. Where the edit goes (which file, which
template) is decided by ``stackctl.fixing``; this module only knows how to write
one value into one mapping, one list or one scalar, and refuses (``Refused``) when
it cannot do so without touching something else: a value shared through a YAML
anchor, a value that comes from a merge key or a ``${VAR}``.

``FIXES`` is the registry, keyed by rule ID: ``checks.catalogue`` derives each
rule's ``fixable`` from it.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# -- the registry ------------------------------------------------------------------------

# Keys that say "this is where the service's hardening is written": a value of this
# family goes to the template that already carries its siblings.
HARDENING = frozenset(
    {"cap_drop", "cap_add", "security_opt", "init", "read_only", "user", "privileged"}
)


@dataclass(frozen=True)
class ServiceValue:
    """A value a service must have, written into the service or a template it extends.

    ``item`` values join a list compose merges as a union across ``extends`` and
    override files (``cap_drop``, ``security_opt``), so writing them once in a shared
    template is enough; ``scalar`` values are overridden by the nearest file that
    writes the key, so one written anywhere in the chain is a person's choice.
    """

    rule_id: str
    key: str
    kind: Literal["item", "scalar"]
    value: str | bool
    family: frozenset[str]
    summary: str


SERVICE_VALUES: dict[str, ServiceValue] = {
    "PRIV-001": ServiceValue(
        "PRIV-001", "cap_drop", "item", "ALL", HARDENING, "drop every capability (cap_drop: ALL)"
    ),
    "PRIV-002": ServiceValue(
        "PRIV-002",
        "security_opt",
        "item",
        "no-new-privileges:true",
        HARDENING,
        "set no-new-privileges:true in security_opt",
    ),
    "PRIV-003": ServiceValue(
        "PRIV-003", "init", "scalar", True, HARDENING, "run an init as PID 1 (init: true)"
    ),
}

# Every rule with a mechanical fix, and what the fix does.
FIXES: dict[str, str] = {
    **{rule_id: value.summary for rule_id, value in SERVICE_VALUES.items()},
    "HYG-002": 'bind the published port to 127.0.0.1 ("127.0.0.1:<host>:<container>")',
    "COMPOSE-002": "delete the obsolete top-level version: key, and write a deprecated "
    "external: {name: X} as name: X plus external: true",
    "RES-001": "extend the smallest size template of the platform (small, medium, large) "
    "instead of the template the service extends",
    "LOG-001": "make the service extend the platform's Loki logging template",
}
LOOPBACK = "127.0.0.1"


class Refused(Exception):
    """The edit cannot be made without touching something else; the message says why."""


# -- what reports show -------------------------------------------------------------------


@dataclass(frozen=True)
class TextEdit:
    """Replace ``text[start:end]`` (character offsets) with ``new``."""

    start: int
    end: int
    new: str


@dataclass(frozen=True)
class Change:
    """One region of one file replaced, as SARIF says it: 1-based lines, columns in
    UTF-16 code units, the end exclusive (an insertion has start == end)."""

    file: str
    start_line: int
    start_column: int
    end_line: int
    end_column: int
    inserted: str


@dataclass(frozen=True)
class FindingFix:
    """What ``fix`` would do for one finding: a sentence and the file regions it replaces."""

    description: str
    changes: tuple[Change, ...]


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, len(text[start:offset].encode("utf-16-le")) // 2 + 1


def changes_of(file: str, text: str, edits: Sequence[TextEdit]) -> tuple[Change, ...]:
    return tuple(
        Change(file, *_position(text, e.start), *_position(text, e.end), e.new) for e in edits
    )


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """``text`` with every edit spliced in; identical edits count once, overlaps are refused."""
    unique = sorted(set(edits), key=lambda e: (e.start, e.end, e.new))
    for before, after in itertools.pairwise(unique):
        if after.start < before.end:
            raise Refused("two fixes would change the same text")
    for edit in reversed(unique):
        text = text[: edit.start] + edit.new + text[edit.end :]
    return text


# -- reading the text ----------------------------------------------------------------------


@lru_cache(maxsize=64)
def parse(text: str) -> Node:
    """The node tree of one compose file, with each node's place in ``text``.

    Memoized by text: a plan asks for the same file once per finding, and the round-trip
    composer is pure Python. The edits only read the tree (they splice text)."""
    try:
        node = YAML(typ="rt").compose(io.StringIO(text))
    except (YAMLError, RecursionError) as error:
        name = error.__class__.__name__
        raise Refused(f"the file is not YAML this fixer can read ({name})") from None
    if not isinstance(node, MappingNode):
        raise Refused("the file is not a YAML mapping")
    return node


@lru_cache(maxsize=64)
def _comments(text: str) -> tuple[tuple[str, int], ...]:
    found: Counter[str] = Counter()
    if "#" not in text:  # no comment at all: nothing to scan for
        return ()
    try:
        tokens = list(YAML(typ="rt").scan(io.StringIO(text)))
    except (YAMLError, RecursionError):
        return ()
    for token in tokens:
        for slot in getattr(token, "_comment", None) or ():
            for comment in slot if isinstance(slot, list) else [slot]:
                for line in str(getattr(comment, "value", "") or "").splitlines():
                    if line.strip().startswith("#"):
                        found[line.strip()] += 1
    return tuple(found.items())


def comments(text: str) -> Counter[str]:
    """Every comment of ``text`` (stripped), counted, as the round-trip scanner sees them
    (one scan per text per run)."""
    return Counter(dict(_comments(text)))


def lost_comments(before: str, after: str) -> list[str]:
    """Comments of ``before`` that ``after`` no longer has."""
    return sorted((comments(before) - comments(after)).elements())


def entry(mapping: Node, key: str) -> tuple[ScalarNode, Node] | None:
    if isinstance(mapping, MappingNode):
        for key_node, value in mapping.value:
            if isinstance(key_node, ScalarNode) and str(key_node.value) == key:
                return key_node, value
    return None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _walk(node: Node) -> Iterator[Node]:
    """Every node once, in document order (an alias's target is not walked again)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(reversed(_children(current)))


def shared(root: Node, node: Node) -> bool:
    """True when ``node`` is reached more than once: an anchor that aliases reuse.

    Each node's children are visited once, so an alias bomb costs its size, not its
    expansion."""
    references = sum(1 for seen in _walk(root) for child in _children(seen) if child is node)
    return references + (node is root) > 1


_ALIAS_RE = re.compile(r"\*[^\s,\[\]{}]+")


def _end(text: str, node: Node, floor: int) -> int:
    """Where ``node``'s text ends, written at or after ``floor`` (an alias is its ``*name``)."""
    start: int = node.start_mark.index
    if start < floor:  # an alias: the anchored node lives elsewhere
        match = _ALIAS_RE.search(text, floor)
        return match.end() if match else floor
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
        end: int = node.end_mark.index
        while end > start and text[end - 1] in " \t\r\n":
            end -= 1  # a block scalar's end takes in the blank lines after it
        return end
    cursor = start
    for child in _children(node):
        cursor = max(cursor, _end(text, child, cursor))
    return cursor


def _line_end(text: str, offset: int) -> int:
    found = text.find("\n", offset)
    if found < 0:
        return len(text)
    return found - 1 if found > 0 and text[found - 1] == "\r" else found


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _column(text: str, offset: int) -> int:
    return offset - (text.rfind("\n", 0, offset) + 1)


def scalar_text(value: str | bool, *, flow: bool = False) -> str:
    """``value`` as a YAML scalar: plain when no reader could misread it, else double-quoted
    (in a flow collection, anything with a colon is quoted: YAML 1.1 readers stop there)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if flow and ":" in value:
        return json.dumps(value)
    if re.fullmatch(
        r"[A-Za-z_/][\w./:-]*|\d+(\.\d+){3}(:[\w${}:.-]+)*", value
    ) and not re.fullmatch(r"(?i)true|false|yes|no|on|off|null|~", value):
        return value
    return json.dumps(value)


def block_sequence_offset(root: Node, text: str) -> int | None:
    """How far this file indents a block list's ``-`` past its key (None: it writes none)."""
    for node in _walk(root):
        if isinstance(node, MappingNode) and not node.flow_style:
            for key, value in node.value:
                if isinstance(value, SequenceNode) and not value.flow_style and value.value:
                    if value.start_mark.index < key.start_mark.index:
                        continue  # an alias
                    first = value.value[0].start_mark.index
                    dash = text.rfind("-", 0, first)
                    return _column(text, dash) - _column(text, key.start_mark.index)
    return None


# -- the edits -----------------------------------------------------------------------------


def service_mapping(root: Node, service: str) -> MappingNode:
    """``services.<service>`` of one file; refused when it is missing or shared by an alias."""
    services = entry(root, "services")
    found = entry(services[1], service) if services else None
    if found is None or not isinstance(found[1], MappingNode):
        raise Refused(f"services.{service} is not a mapping written in this file")
    key, value = found
    if not isinstance(value, MappingNode):
        raise Refused(f"services.{service} is not a mapping written in this file")
    if value.start_mark.index < key.start_mark.index or shared(root, value):
        raise Refused(f"services.{service} is a YAML anchor other entries reuse")
    return value


def add_entry(
    text: str,
    root: Node,
    mapping: MappingNode,
    key: str,
    value: str | bool,
    *,
    item: bool,
    flow: str = "",
) -> TextEdit:
    """Write ``key: value`` (a list of that one item with ``item``; ``flow``, already YAML,
    as it is) as the last entry of ``mapping``, in the mapping's own style and the
    file's list indentation."""
    nl = _newline(text)
    if mapping.flow_style or not mapping.value:
        rendered = f"[{scalar_text(value, flow=True)}]" if item else scalar_text(value, flow=True)
        rendered = flow or rendered
        if mapping.value:
            cursor = _end(text, mapping.value[-1][1], mapping.value[-1][0].end_mark.index)
            return TextEdit(cursor, cursor, f", {key}: {rendered}")
        opening = text.find("{", mapping.start_mark.index)
        if opening < 0:
            raise Refused(f"cannot find where to write {key}")
        return TextEdit(opening + 1, opening + 1, f"{key}: {rendered}")
    indent = _column(text, mapping.value[0][0].start_mark.index)
    offset = block_sequence_offset(root, text) if item else None
    if flow:
        line = f"{key}: {flow}"
    elif not item:
        line = f"{key}: {scalar_text(value)}"
    elif offset is None:
        line = f"{key}: [{scalar_text(value, flow=True)}]"
    else:
        line = f"{key}:{nl}{' ' * (indent + offset)}- {scalar_text(value)}"
    end = _line_end(text, _end(text, mapping, mapping.start_mark.index))
    return TextEdit(end, end, f"{nl}{' ' * indent}{line}")


def add_item(text: str, sequence: SequenceNode, value: str) -> TextEdit:
    """Append ``value`` to a list, in the list's own style (flow or block, its quoting)."""
    items = sequence.value
    if sequence.flow_style:
        if not items:
            opening = text.find("[", sequence.start_mark.index)
            return TextEdit(opening + 1, opening + 1, scalar_text(value, flow=True))
        cursor = _end(text, items[-1], items[-1].start_mark.index)
        return TextEdit(cursor, cursor, f", {_like(text, items[-1], value, flow=True)}")
    first = items[0].start_mark.index
    dash = text.rfind("-", 0, first)
    end = _line_end(text, _end(text, sequence, sequence.start_mark.index))
    spacing = text[dash + 1 : first]
    item = _like(text, items[-1], value)
    return TextEdit(end, end, f"{_newline(text)}{' ' * _column(text, dash)}-{spacing}{item}")


def _like(text: str, sibling: Node, value: str, *, flow: bool = False) -> str:
    """``value`` quoted the way ``sibling`` is (double, single or plain)."""
    quote = text[sibling.start_mark.index] if isinstance(sibling, ScalarNode) else ""
    if quote == '"':
        return json.dumps(value)
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    return scalar_text(value, flow=flow)


def set_service_value(text: str, service: str, fix: ServiceValue) -> TextEdit:
    """Give ``services.<service>`` in this file the value ``fix`` stands for."""
    root = parse(text)
    mapping = service_mapping(root, service)
    merged = entry(mapping, "<<")
    if merged is not None:
        sources = merged[1].value if isinstance(merged[1], SequenceNode) else [merged[1]]
        if any(entry(source, fix.key) is not None for source in sources):
            raise Refused(f"{fix.key} comes from a YAML merge key (<<); change the anchor")
    existing = entry(mapping, fix.key)
    if existing is None:
        return add_entry(text, root, mapping, fix.key, fix.value, item=fix.kind == "item")
    key_node, value = existing
    if fix.kind == "scalar" or not isinstance(value, SequenceNode):
        raise Refused(f"{fix.key} is already written here as {_snippet(text, key_node, value)}")
    if value.start_mark.index < key_node.start_mark.index or shared(root, value):
        raise Refused(f"{fix.key} is a YAML anchor other entries reuse")
    return add_item(text, value, str(fix.value))


def extend_template(text: str, service: str, file: str, template: str) -> TextEdit:
    """Make ``services.<service>`` extend ``template`` of ``file`` (relative to this file;
    "" for this one). Refused when it extends something already."""
    root = parse(text)
    mapping = service_mapping(root, service)
    if entry(mapping, "extends") is not None:
        raise Refused(f"services.{service} extends another template already")
    target = (
        f"{{file: {scalar_text(file, flow=True)}, service: {scalar_text(template, flow=True)}}}"
    )
    return add_entry(
        text, root, mapping, "extends", template, item=False, flow=target if file else ""
    )


def retarget_extends(text: str, service: str, template: str) -> TextEdit:
    """Make ``services.<service>`` extend ``template`` (same file as before) instead."""
    root = parse(text)
    found = entry(service_mapping(root, service), "extends")
    if found is None:
        raise Refused(f"services.{service} extends nothing")
    named = found[1] if isinstance(found[1], ScalarNode) else None
    if isinstance(found[1], MappingNode):
        inner = entry(found[1], "service")
        named = inner[1] if inner is not None and isinstance(inner[1], ScalarNode) else None
    if named is None or "$" in str(named.value):
        raise Refused(f"services.{service}'s extends does not name its template plainly")
    start = named.start_mark.index
    return TextEdit(start, _end(text, named, start), _like(text, named, template))


def _snippet(text: str, key: Node, value: Node) -> str:
    return text[key.start_mark.index : _end(text, value, key.end_mark.index)].strip()


def drop_top_level_key(text: str, key: str) -> TextEdit:
    """Delete a top-level ``key`` and its value; a comment on its line stays, on its own."""
    root = parse(text)
    found = entry(root, key)
    if found is None:
        raise Refused(f"no top-level {key}: key in this file")
    key_node, value = found
    if getattr(root, "flow_style", False):
        raise Refused("the file is one flow mapping")
    start = text.rfind("\n", 0, key_node.start_mark.index) + 1
    end = _line_end(text, _end(text, value, key_node.end_mark.index))
    tail = text[_end(text, value, key_node.end_mark.index) : end]
    kept = tail.strip() if tail.strip().startswith("#") else ""
    stop = end + len(_newline(text)) if end < len(text) else end
    return TextEdit(start, stop, kept + _newline(text) if kept else "")


def name_external(text: str, section: str, name: str) -> list[TextEdit]:
    """``<section>.<name>.external: {name: X}`` (deprecated) as ``name: X`` + ``external: true``."""
    root = parse(text)
    top = entry(root, section)
    found = entry(top[1], name) if top else None
    if found is None or not isinstance(found[1], MappingNode):
        raise Refused(f"{section}.{name} is not a mapping written in this file")
    resource = found[1]
    external = entry(resource, "external")
    inner = entry(external[1], "name") if external else None
    if external is None or inner is None or not isinstance(inner[1], ScalarNode):
        raise Refused(f"{section}.{name} has no external.name to move")
    if shared(root, resource) or shared(root, external[1]):
        raise Refused(f"{section}.{name} is a YAML anchor other entries reuse")
    key, value = external
    start = key.end_mark.index  # right after "external": its colon and value go
    true = TextEdit(start, _end(text, value, start), ": true")
    written = text[inner[1].start_mark.index : _end(text, inner[1], inner[1].start_mark.index)]
    own = entry(resource, "name")
    if own is not None:
        if str(own[1].value) != str(inner[1].value):
            raise Refused(f"{section}.{name} names two different resources")
        return [true]
    return [true, add_entry(text, root, resource, "name", "", item=False, flow=written)]


# -- ports ---------------------------------------------------------------------------------

_VARIABLE_RE = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(text: str, env: Mapping[str, str]) -> str | None:
    """``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$VAR`` as compose reads them;
    None when a required (``?``) variable is missing."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        if match.group(0) == "$$":
            return "$"
        name = match["name"] or match["bare"]
        op, arg, current = match["op"] or "", match["arg"] or "", env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("-"):
            return arg if unset else str(current)
        if op.endswith("?"):
            missing = missing or unset
            return str(current or "")
        if op.endswith("+"):
            return "" if unset else arg
        return current or ""

    result = _VARIABLE_RE.sub(value, text)
    return None if missing else result


@dataclass(frozen=True)
class Port:
    """A published port as the finding names it: ``published/protocol`` and its target."""

    published: str
    target: str
    protocol: str = "tcp"


def _short_port(spec: str) -> tuple[str, str, str, str] | None:
    """``(host_ip, published, target, protocol)`` of a short-syntax port, or None."""
    body, _, protocol = spec.partition("/")
    if body.startswith("["):  # [::1]:8080:80
        host, _, rest = body[1:].partition("]:")
        parts = [host, *rest.split(":")]
    else:
        parts = body.split(":")
    if len(parts) == 1:
        return "", "", parts[0], protocol or "tcp"
    if len(parts) == 2:
        return "", parts[0], parts[1], protocol or "tcp"
    if len(parts) == 3:
        return parts[0], parts[1], parts[2], protocol or "tcp"
    return None


def bind_ports_to_loopback(
    text: str, service: str, wanted: Sequence[Port], env: Mapping[str, str]
) -> list[TextEdit]:
    """Bind each short or long port entry of ``services.<service>`` that publishes one of
    ``wanted`` to 127.0.0.1. An entry that names its own host address is a person's
    choice and is refused; [] when this file writes none of them."""
    root = parse(text)
    mapping = service_mapping(root, service)
    found = entry(mapping, "ports")
    if found is None or not isinstance(found[1], SequenceNode):
        return []
    key, ports = found
    if ports.start_mark.index < key.start_mark.index or shared(root, ports):
        raise Refused("ports is a YAML anchor other entries reuse")
    edits: list[TextEdit] = []
    for item in ports.value:
        if isinstance(item, ScalarNode):
            resolved = interpolate(str(item.value), env)
            parts = _short_port(resolved) if resolved is not None else None
            if parts is None or not _publishes(parts[1], parts[2], parts[3], wanted):
                continue
            if parts[0]:
                raise Refused(f"port {item.value} names its own host address {parts[0]}")
            raw = str(item.value)
            edits.append(
                TextEdit(
                    item.start_mark.index,
                    _end(text, item, item.start_mark.index),
                    _like(text, item, f"{LOOPBACK}:{raw}"),
                )
            )
        elif isinstance(item, MappingNode):
            fields = {
                str(k.value): interpolate(str(v.value), env) or ""
                for k, v in item.value
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode)
            }
            published = fields.get("published", "")
            if not _publishes(
                published, fields.get("target", ""), fields.get("protocol", ""), wanted
            ):
                continue
            if fields.get("host_ip"):
                raise Refused(f"port {published} names its own host address {fields['host_ip']}")
            edits.append(add_entry(text, root, item, "host_ip", LOOPBACK, item=False))
    return edits


def _publishes(published: str, target: str, protocol: str, wanted: Sequence[Port]) -> bool:
    protocol = protocol or "tcp"
    for port in wanted:
        if target.split("-")[0] != port.target.split("-")[0] or protocol != port.protocol:
            continue
        if published == port.published or port.published in _range(published):
            return True
    return False


def _range(published: str) -> list[str]:
    low, _, high = published.partition("-")
    if low.isdecimal() and high.isdecimal() and int(high) - int(low) < 65536:
        return [str(n) for n in range(int(low), int(high) + 1)]
    return [published]
