"""Find the line of a key path (``services.app.deploy.labels``) in a raw compose file.

YAML nodes carry their position, so lines come from the composed node tree rather
than from searching text. A path step that is not found stops the walk: the caller
gets the line of the deepest step that exists.

A file is composed once (libyaml when PyYAML has it) into a ``Locator``: an index
of the tree holding only what a lookup needs (each mapping's keys with their lines,
each list's items), so a lookup costs its path's length, not a parse of the file.
Locating every service and warning of a file of N services is linear in N.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent

# Every YAML file the checks parse is bounded while it is composed, before any value
# is built: a document nested deeper than MAX_DEPTH, or one whose aliases expand to
# more than MAX_NODES nodes (an alias bomb), is refused. Rules and constructors walk
# values recursively, and each use of an alias is walked again, so both bounds keep
# that work small; libyaml's own composer recurses in C and crashes the process on a
# file nested some 100,000 levels deep, so composing is always done here, in Python,
# over libyaml's events (as fast: the scanner and parser are the costly part).
MAX_DEPTH = 100  # nested mappings and lists; compose files rarely pass 10
MAX_NODES = 1_000_000  # nodes after alias expansion; 400 services take some 10,000


class BoundExceeded(ValueError):
    """A YAML document over a bound; the message says which, as the end of a sentence
    that starts with the file's name."""


class BoundedComposition:
    """Composes a YAML document with a depth and an expanded-node count bound.

    Mixed in before a PyYAML loader: it counts each node as it is composed, and an
    alias as the whole size of the node it names, so an alias bomb is refused after
    about MAX_NODES steps of work, not after its expansion.
    """

    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self.start_bounds()

    def start_bounds(self) -> None:
        self.anchors: dict[str, yaml.Node] = {}
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}  # id of an anchored node -> its expanded size

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > self.max_nodes:
            raise BoundExceeded(
                f"expands to more than {self.max_nodes:,} YAML nodes (aliases counted each "
                "time they are used; an alias bomb?)"
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor) if event.anchor is not None else None
            if target is not None:
                size = self._sizes.get(id(target))
                if size is None:  # the anchored node is still open: it contains itself
                    raise BoundExceeded(f"uses alias *{event.anchor} inside its own anchor")
                self._count(size)
            node: yaml.Node = super().compose_node(parent, index)  # type: ignore[misc]
            return node
        if self._depth >= self.max_depth:
            raise BoundExceeded(f"nests deeper than {self.max_depth} levels")
        before = self._expanded
        self._count(1)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._sizes[id(node)] = self._expanded - before
        return node


# libyaml's safe loader when PyYAML has it: it scans and parses ten times faster. The
# composer is PyYAML's own (Composer comes before the C parser's), run by the bounds.
_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeLoader(BoundedComposition, Composer, _BASE):  # type: ignore[misc,valid-type]
    """The safe loader every compose file and facts record is read with."""

    def __init__(self, stream: Any) -> None:
        _BASE.__init__(self, stream)  # Composer's own takes no stream
        self.start_bounds()


SAFE_LOADER = SafeLoader

# What a lookup walks into: a mapping's keys (first occurrence wins) with the line of
# the key and what is under it; a list's items (line, scalar text or None, the
# ``source``/``target`` values of a mapping item, what is under the item); None for
# a scalar, which has nothing under it.
_Tree: TypeAlias = "dict[str, tuple[int, _Tree]] | list[_Item] | None"
_Item: TypeAlias = "tuple[int, str | None, tuple[str, ...], _Tree]"


class Locator:
    """Lines of key paths in one compose file, from one parse of it."""

    __slots__ = ("_root",)

    def __init__(self, root: yaml.Node | None) -> None:
        """Index ``root`` (the file's composed tree); the tree itself is not kept."""
        self._root = _index(root) if root is not None else None

    @classmethod
    def parse(cls, text: str) -> Locator:
        """A locator of ``text``; text that is not YAML, or over a bound (``MAX_DEPTH``,
        ``MAX_NODES``), locates nothing."""
        loader = SAFE_LOADER(text)
        try:
            return cls(loader.get_single_node())
        except (yaml.YAMLError, BoundExceeded):
            return cls(None)
        finally:
            loader.dispose()

    def line(self, path: Sequence[str]) -> tuple[int, int]:
        """``(line, depth)``: the 1-based line of the deepest step of ``path`` found, and
        how many steps were found (0 when not even the first one is there, or the text
        is not YAML)."""
        tree, line, depth = self._root, 1, 0
        for step in path:
            found = _child(tree, step)
            if found is None:
                break
            line, tree = found
            depth += 1
        return line, depth


def _child(tree: _Tree, step: str) -> tuple[int, _Tree] | None:
    """The line of ``step`` under ``tree`` and what is under it: a mapping key, or a
    list item naming ``step``.

    A list item matches when it is the scalar ``step`` (``secrets: [db]``), a
    mapping whose ``source``/``target`` is ``step`` (long syntax), or a short
    ``ports`` string whose container side starts with ``step``'s port number; the
    first matching item wins, and its own line is reported.
    """
    if isinstance(tree, dict):
        return tree.get(step)
    if isinstance(tree, list):
        port = step.split("/")[0]
        for line, scalar, references, under in tree:
            if scalar is not None:
                if scalar == step or scalar.split("/")[0].rsplit(":", 1)[-1] == port:
                    return line, under
            elif step in references or port in references:
                return line, under
    return None


def _index(root: yaml.Node) -> _Tree:
    """The lookup index of a node tree, built without recursion (any depth) and once
    per node (an alias shares its anchor's index, so alias bombs stay small)."""
    built: dict[int, _Tree] = {}
    pending: list[tuple[yaml.Node, _Tree]] = []

    def shell(node: yaml.Node) -> _Tree:
        if id(node) in built:
            return built[id(node)]
        made: _Tree
        if isinstance(node, yaml.MappingNode):
            made = {}
        elif isinstance(node, yaml.SequenceNode):
            made = []
        else:
            return None
        built[id(node)] = made
        pending.append((node, made))
        return made

    top = shell(root)
    while pending:
        node, made = pending.pop()
        if isinstance(made, dict):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and str(key.value) not in made:
                    made[str(key.value)] = (key.start_mark.line + 1, shell(value))
        elif isinstance(made, list):
            for item in node.value:
                line = item.start_mark.line + 1
                if isinstance(item, yaml.ScalarNode):
                    made.append((line, item.value, (), None))
                elif isinstance(item, yaml.MappingNode):
                    references = tuple(
                        str(value.value)
                        for key, value in item.value
                        if isinstance(key, yaml.ScalarNode)
                        and key.value in {"source", "target"}
                        and isinstance(value, yaml.ScalarNode)
                    )
                    made.append((line, None, references, shell(item)))
    return top
