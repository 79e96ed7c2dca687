"""What the compose files say about a service before compose fills in variables.

The rendered model has every ``${VAR}`` replaced by its value, so a literal and a
value filled from the host environment at run time look the same there. Rules that
must tell them apart (a credential written in a committed file vs. one injected at
deploy time) read the service as written: its declarations in the files compose
loads, over the services it extends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from checks.compose_files import extends_of, raw_service
from checks.stack import Stack

# Compose interpolation after ``$$`` escapes are removed: ``${VAR}``, ``${VAR:-default}``,
# ``${VAR-default}``, ``${VAR:?error}``, ``${VAR:+alternative}`` and ``$VAR``.
INTERPOLATION_RE = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<word>[^}]*))?\}"
    r"|\$[A-Za-z_][A-Za-z0-9_]*"
)
EXTENDS_DEPTH = 8  # compose refuses cycles; deeper chains than this are not judged


def filled_at_run_time(written: str | None) -> bool:
    """True when a value as written comes from the environment compose runs in.

    No value at all (``KEY:`` or ``KEY`` in a list) passes the host's variable
    through; ``${VAR}`` and ``${VAR:?msg}`` are filled from it. A default or an
    alternative written next to the variable (``${VAR:-changeme}``) is a literal in
    the file, and so is a ``$$`` escape.
    """
    if written is None:
        return True
    matches = list(INTERPOLATION_RE.finditer(written.replace("$$", "")))
    if not matches:
        return False
    for match in matches:
        op, word = match.group("op") or "", match.group("word") or ""
        if op and op.lstrip(":") in {"-", "+"} and word and "$" not in word:
            return False
    return True


def _with_bases(stack: Stack, file: str, service: str, depth: int = 0) -> list[Mapping[str, Any]]:
    """The raw mappings of ``service`` in ``file``: what it extends first, itself last."""
    spec = raw_service(stack.facts.documents, file, service)
    if not spec or depth > EXTENDS_DEPTH:
        return []
    base = extends_of(file, spec)
    bases = _with_bases(stack, *base, depth + 1) if base and base[1] else []
    return [*bases, spec]


def written_specs(stack: Stack, service: str) -> list[Mapping[str, Any]]:
    """The raw mappings compose merges into ``service``, lowest precedence first.

    The files given with ``-f`` override each other in order; a service that only an
    include declares is taken from its first declaration, as compose takes it.
    """
    known = stack.facts.written.get(service)
    if known is None:
        places = stack.facts.declarations.get(service) or ()
        given = [place for place in places if place.unit == 0] or list(places[:1])
        known = tuple(spec for place in given for spec in _with_bases(stack, place.file, service))
        stack.facts.written[service] = known
    return list(known)


def _environment_of(spec: Mapping[str, Any]) -> dict[str, str | None]:
    env = spec.get("environment")
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    if isinstance(env, Mapping):
        return {str(k): None if v is None else str(v) for k, v in env.items()}
    return {}


def written_environment(stack: Stack, service: str) -> dict[str, str | None]:
    """Each ``environment`` key as the files write it (None: no value given).

    Keys that only an ``env_file`` provides are absent: their values are in a file.
    """
    merged: dict[str, str | None] = {}
    for spec in written_specs(stack, service):
        merged.update(_environment_of(spec))
    return merged


def written_field(stack: Stack, service: str, field: str) -> Any:
    """The last value the files give ``field`` of ``service``, or None when none does."""
    value = None
    for spec in written_specs(stack, service):
        if field in spec:
            value = spec[field]
    return value
