"""The user's on-disk cache of render results, keyed by content (``stackctl.project.render``).

The folder is ``renders/`` in ``$STACKCTL_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackctl``,
else ``~/.cache/stackctl``; both are created 0700 and each entry is a 0600 file named
by its key (a sha256 in hex), written to a temporary name and renamed into place, so
a reader sees a whole entry or none. Both folders must be real directories we own
(never a symlink: each is opened ``O_NOFOLLOW``) and every entry is opened
relative to it with ``O_NOFOLLOW | O_NONBLOCK``; otherwise the cache is off for the
process and says so once. Whatever cannot be read, parsed or trusted is a miss,
never an error: the caller then does the work again.

This module only stores bytes under a key; what goes into a key (every input of a
render) is the caller's business. It imports nothing else of the project layer.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import threading
from pathlib import Path
from typing import Any

from stackctl.console import say

CACHE_DIR_VARIABLE = "STACKCTL_CACHE_DIR"
RENDERS = "renders"  # our folder inside the cache folder, which other caches share
# An entry larger than this is never read back (a full model of a large stack is a few MB).
MAX_ENTRY_BYTES = 256 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")


def cache_directory(env: dict[str, str] | None = None) -> Path:
    """Where the cache lives: ``$STACKCTL_CACHE_DIR``, ``$XDG_CACHE_HOME/stackctl``,
    else ``~/.cache/stackctl`` (relative settings are ignored, as the XDG spec says)."""
    env = dict(os.environ) if env is None else env
    chosen = env.get(CACHE_DIR_VARIABLE, "")
    if chosen and Path(chosen).is_absolute():
        return Path(chosen)
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "stackctl"
    return Path.home() / ".cache" / "stackctl"


class _Folder:
    """The open cache folder of this process (or why there is none), opened on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path: Path | None = None
        self.fd: int | None = None

    def descriptor(self) -> int | None:
        path = cache_directory()
        with self.lock:
            if self.path != path:  # the variable changed (tests): reopen
                self._close()
                self.path = path
                self.fd = _open_folder(path)
            return self.fd

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = None


_FOLDER = _Folder()
_said: set[str] = set()


def _off(path: Path, why: str) -> None:
    if str(path) not in _said:
        _said.add(str(path))
        say(f"notice: render cache off: {path} {why}; every render runs compose")


def _owned_folder(name: str | Path, parent: int | None = None) -> int:
    """``name`` (relative to ``parent``) created 0700 when missing and opened
    ``O_NOFOLLOW``: a symlink in its place raises (ELOOP)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent)
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    status = os.fstat(fd)
    if status.st_uid != os.geteuid():
        os.close(fd)
        raise PermissionError(errno.EPERM, "belongs to another user")
    if stat.S_IMODE(status.st_mode) & 0o077:
        os.fchmod(fd, 0o700)  # ours, but open to others: not for cached models
    return fd


def _open_folder(path: Path) -> int | None:
    """``path/renders`` (the cache folder and its renders folder, neither a symlink),
    opened; None, said once, when it cannot be used."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        root = _owned_folder(path)
    except OSError as error:
        _off(path, "is a symlink" if path.is_symlink() else f"cannot be used ({error.strerror})")
        return None
    try:
        return _owned_folder(RENDERS, root)
    except OSError as error:
        shown = path / RENDERS
        _off(shown, "is a symlink" if shown.is_symlink() else f"cannot be used ({error.strerror})")
        return None
    finally:
        os.close(root)


def _entry_name(key: str) -> str:
    if len(key) != 64 or not set(key) <= _HEX:
        raise ValueError(f"not a sha256 key: {key!r}")
    return f"{key}.json"


def load(key: str) -> Any | None:
    """The JSON value stored under ``key``, or None: missing, unreadable, corrupt or
    not a regular file are all a miss."""
    folder = _FOLDER.descriptor()
    if folder is None:
        return None
    try:
        fd = os.open(
            _entry_name(key),
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=folder,
        )
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_ENTRY_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as stream:
            entry = json.loads(stream.read())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None  # renamed, truncated or another format: never trusted
    return entry.get("value")


def save(key: str, value: Any) -> None:
    """Store ``value`` (JSON) under ``key``: 0600, atomically; a failure only loses the entry."""
    folder = _FOLDER.descriptor()
    if folder is None:
        return
    name = _entry_name(key)
    temporary = f".{name}.{secrets.token_hex(8)}.tmp"
    data = json.dumps({"key": key, "value": value}, separators=(",", ":")).encode()
    try:
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=folder,
        )
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
