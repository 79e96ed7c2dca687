"""Secret files: declared in the rendered model, generated once, never printed.

Each top-level ``file:`` secret gets its generator kind (and the uid that must
read it) from ``x-secret-generators`` in the root compose file, the one
declarative place. Files are created with an exclusive create (never
overwritten), mode 0600, in a 0700 directory. Only ``rotate`` replaces a
value, atomically and one named secret at a time.
"""

from __future__ import annotations

import base64
import os
import secrets as random
import stat
import string
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import EnvironmentProblem, UsageError
from stackctl.project.secret_specs import GENERATORS_KEY, SecretSpec

FILE_MODE = 0o600
DIR_MODE = 0o700
_ALPHABET = string.ascii_letters + string.digits


def _password() -> str:
    return "".join(random.choice(_ALPHABET) for _ in range(32))


GENERATORS: dict[str, Callable[[], str]] = {
    "password": _password,
    "hex": lambda: random.token_hex(32),
    "urlsafe-b64-32": lambda: base64.urlsafe_b64encode(random.token_bytes(32)).decode(),
    "uuid": lambda: str(uuid.uuid4()),
    "username": lambda: f"admin-{random.token_hex(4)}",
    "rabbitmq-conf": lambda: f"default_user = platform\ndefault_pass = {_password()}\n",
}


@dataclass(frozen=True)
class SecretStatus:
    spec: SecretSpec
    status: str  # created, present, missing, empty, wrong permissions, wrong owner, ...

    @property
    def ok(self) -> bool:
        return self.status in {"created", "present", "rotated", "fixed"}


SYMLINK = "symlink (refused)"
SPECIAL = "not a regular file (refused)"
OUTSIDE = "outside the project (refused)"
REFUSED = {SYMLINK, SPECIAL, OUTSIDE}
WRITE_HINT = "make secrets/ a writable directory you own (0700), holding only regular files"


def _problem(error: OSError, path: Path) -> EnvironmentProblem:
    where = error.filename or path
    return EnvironmentProblem(f"{where}: {error.strerror or error}", hint=WRITE_HINT)


def is_outside(spec: SecretSpec, root: Path | None) -> bool:
    """Whether the secret's folder lies outside ``root`` (absolute path, ``..``, symlinked dir).

    Such a file is host state this tool must not create, chmod or replace.
    """
    if root is None:
        return False
    try:
        return not spec.path.parent.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return True


def inspect(spec: SecretSpec, root: Path | None = None) -> str:
    """The status of one secret file on disk, without reading its value or following links."""
    if is_outside(spec, root):
        return OUTSIDE
    try:
        info = spec.path.lstat()
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        raise EnvironmentProblem(
            f"secrets directory {spec.path.parent} is not a directory", hint=WRITE_HINT
        ) from None
    except OSError as error:
        raise _problem(error, spec.path) from None
    if stat.S_ISLNK(info.st_mode):
        return SYMLINK
    if not stat.S_ISREG(info.st_mode):
        return SPECIAL
    if info.st_size == 0:
        return "empty"
    directory = spec.path.parent.lstat()
    if stat.S_IMODE(info.st_mode) != FILE_MODE or stat.S_IMODE(directory.st_mode) != DIR_MODE:
        return "wrong permissions"
    if spec.owner is not None and (info.st_uid, info.st_gid) != spec.owner:
        return "wrong owner"
    return "present"


def _ensure_directory(directory: Path) -> None:
    """Create the secrets directory 0700, or tighten it; never through a symlink."""
    try:
        info = directory.lstat()
    except FileNotFoundError:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        info = directory.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise EnvironmentProblem(
            f"secrets directory {directory} is a symlink; refusing to write through it",
            hint=WRITE_HINT,
        )
    if not stat.S_ISDIR(info.st_mode):
        raise EnvironmentProblem(
            f"secrets directory {directory} is not a directory", hint=WRITE_HINT
        )
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        directory.chmod(DIR_MODE)


def _chown_fd(fd: int, owner: tuple[int, int] | None) -> None:
    if owner is not None and os.geteuid() == 0:
        os.fchown(fd, *owner)


def _write_new(spec: SecretSpec, value: str) -> None:
    """Exclusive create: fails rather than overwrite (or follow) anything that appeared."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(spec.path, flags, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
        handle.flush()
        os.fsync(handle.fileno())
        _chown_fd(handle.fileno(), spec.owner)


def _tighten(spec: SecretSpec) -> None:
    """Mode 0600 and the declared owner, on the file itself: a symlink or FIFO is refused."""
    fd = os.open(spec.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise EnvironmentProblem(f"{spec.path} is not a regular file", hint=WRITE_HINT)
        os.fchmod(fd, FILE_MODE)
        _chown_fd(fd, spec.owner)
    finally:
        os.close(fd)


def _replace(spec: SecretSpec, value: str) -> None:
    """Atomic replace for rotation: write a sibling temp file, then rename over."""
    fd, temp = tempfile.mkstemp(dir=spec.path.parent, prefix=f".{spec.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), FILE_MODE)
            _chown_fd(handle.fileno(), spec.owner)
        Path(temp).replace(spec.path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _generate(spec: SecretSpec) -> str | None:
    generator = GENERATORS.get(spec.kind or "")
    return generator() if generator else None


def scaffold(
    specs: Iterable[SecretSpec],
    *,
    check: bool = False,
    fix: bool = False,
    root: Path | None = None,
) -> list[SecretStatus]:
    """Create every missing secret; with ``check`` change nothing, with ``fix`` tighten modes.

    Symlinks, special files and files outside ``root`` (the project) are never
    opened, written, chmodded or chowned: they are reported as refused.
    """
    specs = list(specs)
    found = [(spec, inspect(spec, root)) for spec in specs]
    refused = [spec for spec, status in found if status in REFUSED]
    for spec in refused if not check else []:
        if spec.path.parent.is_symlink():  # the most precise reason first
            raise EnvironmentProblem(
                f"secrets directory {spec.path.parent} is a symlink; refusing to write through it",
                hint=WRITE_HINT,
            )
    if refused and not check:
        listed = ", ".join(str(spec.path) for spec in refused)
        outside = any(status == OUTSIDE for _, status in found)
        what = "symlinks, special files or outside the project" if outside else ""
        raise EnvironmentProblem(
            f"refusing to touch secrets: {len(refused)} path(s) are"
            f" {what or 'symlinks or special files'}: {listed}",
            hint="keep secret files as regular files inside the project (e.g. ./secrets/name)",
        )
    results = []
    for spec, status in found:
        try:
            if spec.kind not in GENERATORS:
                status = "no generator" if status == "missing" else status
            elif status == "missing" and not check:
                _ensure_directory(spec.path.parent)
                value = _generate(spec)
                assert value is not None  # kind is known
                _write_new(spec, value)
                status = "created"
            elif status in {"wrong permissions", "wrong owner"} and fix and not check:
                _ensure_directory(spec.path.parent)
                _tighten(spec)
                status = "fixed"
        except OSError as error:
            raise _problem(error, spec.path) from None
        results.append(SecretStatus(spec, status))
    return results


def rotate(specs: Iterable[SecretSpec], name: str, root: Path | None = None) -> SecretStatus:
    by_name = {spec.name: spec for spec in specs}
    if name not in by_name:
        raise UsageError(f"unknown secret {name!r}", hint=f"known: {', '.join(sorted(by_name))}")
    spec = by_name[name]
    value = _generate(spec)
    if value is None:
        raise UsageError(
            f"secret {name} declares no known generator kind",
            hint=f"set one in {GENERATORS_KEY}: {', '.join(GENERATORS)}",
        )
    status = inspect(spec, root)
    if status in REFUSED:
        what = "outside the project" if status == OUTSIDE else "a symlink or special file"
        raise EnvironmentProblem(f"{spec.path} is {what}; refusing to rotate it", hint=WRITE_HINT)
    try:
        _ensure_directory(spec.path.parent)
        _replace(spec, value)
    except OSError as error:
        raise _problem(error, spec.path) from None
    return SecretStatus(spec, "rotated")
