"""Walk one command from its entry point to the compose child it exists to start.

    python benchmarks/walk.py --until up -- up --profiles core,data --project-dir DIR

Runs the command in this process under a profiler and stops at the first compose
(or docker) child whose arguments contain ``--until``'s word. Prints the call
stack at that moment as modules and layers, and how many calls, module-crossing
calls and modules the walk took. A measurement for ARCHITECTURE.md and the
issue notes, not a test: no timing is involved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stackctl.edge import cli
from stackctl.project import children

PACKAGES = ("stackctl", "checks")


class Reached(BaseException):
    """The child the walk was looking for is about to start."""


def layer(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "stackctl" and len(parts) > 2 else parts[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", required=True, help="a word of the child's argv, e.g. up")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [word for word in args.command if word != "--"]

    calls = crossings = 0
    modules: set[str] = set()
    stack_at_spawn: list[str] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal calls, crossings
        if event != "call":
            return
        module = frame.f_globals.get("__name__", "")
        # Module bodies run once at import; the walk counts the work, not the loading.
        if not module.startswith(PACKAGES) or frame.f_code.co_name == "<module>":
            return
        calls += 1
        modules.add(module)
        caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
        if caller != module and caller.startswith(PACKAGES):
            crossings += 1

    original = children.spawn_child

    def spawn(argv: Any, **kwargs: Any) -> Any:
        if args.until in list(argv):
            frame: FrameType | None = sys._getframe(1)
            while frame is not None:
                module = frame.f_globals.get("__name__", "")
                if module.startswith(PACKAGES) and (
                    not stack_at_spawn or stack_at_spawn[-1] != module
                ):
                    stack_at_spawn.append(module)
                frame = frame.f_back
            raise Reached
        return original(argv, **kwargs)

    children.spawn_child = spawn  # type: ignore[assignment]
    import stackctl.project.compose as compose_module

    compose_module.spawn_child = spawn  # type: ignore[assignment]
    sys.setprofile(profile)
    try:
        cli.main(command)
    except Reached:
        pass
    except SystemExit as stop:
        sys.setprofile(None)
        print(f"the command ended (exit {stop.code}) before a child with {args.until!r} started")
        return 2
    finally:
        sys.setprofile(None)
    path = list(reversed(stack_at_spawn))
    layers: list[str] = []
    for module in path:
        if not layers or layers[-1] != layer(module):
            layers.append(layer(module))
    print("call stack at the child, entry first:")
    for module in path:
        print(f"  {module}")
    print(f"layers on the way: {' > '.join(layers)}")
    print(f"modules on the stack: {len(path)}; modules entered during the walk: {len(modules)}")
    print(f"calls: {calls}, of which across module boundaries: {crossings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
