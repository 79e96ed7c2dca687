"""``python -m stackctl <command>``: the entry point nox sessions and CI use."""

from __future__ import annotations

from stackctl.edge.cli import console

if __name__ == "__main__":
    console()
