"""Find the line of a key path (``services.app.deploy.labels``) in a raw compose file.

YAML nodes carry their position, so this walks the composed node tree rather than
searching text. A path step that is not found stops the walk: the caller gets the
line of the deepest step that exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def _child(node: yaml.Node, step: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The node under ``step``: a mapping key, or a list item naming ``step``.

    A list item matches when it is the scalar ``step`` (``secrets: [db]``), a
    mapping whose ``source``/``target`` is ``step`` (long syntax), or a short
    ``ports`` string whose container side starts with ``step``'s port number.
    Returns the node to report (a mapping entry's key) and the node to walk into.
    """
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and str(key.value) == step:
                return key, value
    if isinstance(node, yaml.SequenceNode):
        port = step.split("/")[0]
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and (
                item.value == step or item.value.split("/")[0].rsplit(":", 1)[-1] == port
            ):
                return item, item
            if isinstance(item, yaml.MappingNode):
                for key, value in item.value:
                    if (
                        isinstance(key, yaml.ScalarNode)
                        and key.value in {"source", "target"}
                        and isinstance(value, yaml.ScalarNode)
                        and str(value.value) in {step, port}
                    ):
                        return item, item
    return None


def key_line(text: str, path: Sequence[str]) -> tuple[int, int]:
    """``(line, depth)``: the 1-based line of the deepest step of ``path`` found, and how
    many steps were found (0 when not even the first one is there, or the text is not
    YAML)."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1, 0
    line, depth = 1, 0
    for step in path:
        if node is None:
            break
        found = _child(node, step)
        if found is None:
            break
        where, node = found
        line, depth = where.start_mark.line + 1, depth + 1
    return line, depth
