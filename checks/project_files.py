"""Small files a project keeps for the tool (its config, its baseline), read the one safe way.

Bounded in size, UTF-8, a regular file, and never a symlink unless the caller allows
it; every problem comes back as one sentence naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Problem = Literal["symlink", "special", "unreadable", "too large", "not utf-8"]


class UnreadableFile(Exception):
    """Why a project file cannot be used; ``problem`` lets each caller give its own hint."""

    def __init__(self, message: str, problem: Problem) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem


def read_project_text(
    path: Path, shown: str, limit: int, limit_text: str, *, follow: bool = False
) -> str | None:
    """The text of ``path``, None when it does not exist; ``shown`` names it in messages,
    ``limit_text`` says ``limit`` bytes the way the caller's users read it."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() and not follow:
        raise UnreadableFile(f"{shown} is a symlink", "symlink")
    if not path.is_file():
        raise UnreadableFile(f"{shown} is not a regular file", "special")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise UnreadableFile(f"{shown} cannot be read: {error.strerror}", "unreadable") from None
    if len(data) > limit:
        raise UnreadableFile(f"{shown} is larger than {limit_text}", "too large")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{shown} is not UTF-8 (byte {error.start})", "not utf-8") from None
