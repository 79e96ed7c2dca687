"""The file-based secrets a rendered model declares, and who must be able to read them.

Each top-level ``file:`` secret gets its generator kind (and the uid that must
read it) from ``x-secret-generators`` in the root compose file. Pure: nothing
here touches a secret file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.errors import UsageError

GENERATORS_KEY = "x-secret-generators"


@dataclass(frozen=True)
class SecretSpec:
    name: str
    path: Path
    kind: str | None
    owner: tuple[int, int] | None = None


def parse_owner(text: Any) -> tuple[int, int] | None:
    """``"1000:0"`` -> ``(1000, 0)``; ``"1000"`` -> ``(1000, 1000)``; empty -> None."""
    if text in (None, ""):
        return None
    uid, _, gid = str(text).partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise UsageError(f"owner {text!r} is not uid[:gid]") from None


def specs_from_model(model: Mapping[str, Any]) -> list[SecretSpec]:
    """The file-based secrets of a rendered model, with their declared generators."""
    declared = model.get(GENERATORS_KEY) or {}
    specs = []
    for name, spec in sorted((model.get("secrets") or {}).items()):
        if not (spec or {}).get("file"):
            continue
        entry = declared.get(name)
        kind = entry.get("kind") if isinstance(entry, Mapping) else entry
        owner = parse_owner(entry.get("owner")) if isinstance(entry, Mapping) else None
        specs.append(SecretSpec(name, Path(spec["file"]), kind and str(kind), owner))
    return specs
