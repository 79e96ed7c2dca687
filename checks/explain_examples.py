"""The ``--explain`` snippets of rules that need image facts: the record they assume.

A snippet states the facts record it relies on under the top-level key
``x-image-facts`` (compose ignores ``x-*`` keys), so one YAML text is both what
``--explain`` shows and what the tests evaluate. ``checks.explain`` shows that
block apart, as what ``infra/image-facts/`` would hold.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

import yaml

FACTS_KEY = "x-image-facts:"

# The facts record every example assumes unless it says otherwise: a busybox-based
# image that runs as 1000 and honours no *_FILE variable.
EXAMPLE_RECORD: dict[str, Any] = {
    "image": "example/app:1.0",
    "reviewed": dt.date(2026, 11, 26),
    "sources": {"dockerfile": "example/app@v1.0:Dockerfile"},
    "shell": {"kind": "busybox", "source": "dockerfile"},
    "tools": [{"name": "wget", "source": "dockerfile"}],
    "user": {"default": "1000:1000", "runtime": "1000:1000", "source": "dockerfile"},
    "entrypoint": {
        "needs_root": False,
        "switches_with": "none",
        "runs_as_any_user": True,
        "source": "dockerfile",
    },
    "file_capabilities": [],
    "file_env": {"honoured": [], "source": "dockerfile"},
    "writable_paths": [],
}


# libyaml's emitter where available: the examples are built when the rules load.
class _ExampleDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Quotes strings with a colon (image references, uid:gid), as a person writes them."""


_ExampleDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style='"' if ":" in value else None
    ),
)


def example_with_facts(services: str, *, without: tuple[str, ...] = (), **changes: Any) -> str:
    """An ``--explain`` snippet: the facts record it assumes (``EXAMPLE_RECORD`` with
    ``changes``, less the keys ``without``) as ``x-image-facts``, then ``services``."""
    record = {k: v for k, v in {**EXAMPLE_RECORD, **changes}.items() if k not in without}
    dumped = yaml.dump(record, Dumper=_ExampleDumper, sort_keys=False, default_flow_style=None)
    lines = dumped.splitlines()
    item = "\n".join(("  - " if n == 0 else "    ") + line for n, line in enumerate(lines))
    facts = f"{FACTS_KEY}  # the records infra/image-facts/ holds for this example\n{item}\n"
    return facts + textwrap.dedent(services).strip("\n") + "\n"
