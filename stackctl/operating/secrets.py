"""Secret files: declared in the rendered model, generated once, never printed.

Each top-level ``file:`` secret gets its generator kind (and the uid that must
read it) from ``x-secret-generators`` in the root compose file, the one
declarative place. Files are created with an exclusive create (never
overwritten), mode 0600, in a 0700 directory. Only ``rotate`` replaces a
value, atomically and one named secret at a time.

Every change (create, tighten, rotate) goes through directory descriptors:
each folder from ``/`` down to the secret's is opened ``O_NOFOLLOW|O_DIRECTORY``
relative to the one before and checked with ``fstat`` (a directory; inside the
project owned by you or the project's owner and not writable by anyone), and
the file is then created, opened or renamed relative to that descriptor. A
folder swapped for a symlink after the check cannot redirect the change; the
swap itself is noticed afterwards and ends the run. Modes are set with
``fchmod``, so the umask never decides them.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets as random
import stat
import string
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import EnvironmentProblem, StackError, UsageError
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
    # A call relative to a directory descriptor names only the last component: say the path.
    named = error.filename
    where = named if isinstance(named, str) and Path(named).is_absolute() else path
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


_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class _Walk:
    """The folders from ``/`` to a secret's folder; those from ``checked`` on are checked."""

    parts: tuple[str, ...]
    checked: int  # index of the first folder inside the project (or the secret's own)

    @property
    def folder(self) -> Path:
        return Path(*self.parts)


def _walk(spec: SecretSpec, root: Path | None) -> _Walk:
    # Lexical normalisation is exact here: no component may be a symlink.
    folder = Path(os.path.normpath(spec.path.parent.absolute()))
    parts = folder.parts
    if root is None:  # no project: only the secret's own folder is ours
        return _Walk(parts, max(1, len(parts) - 1))
    anchor = Path(os.path.normpath(root.absolute())).parts
    if parts[: len(anchor)] != anchor:
        raise EnvironmentProblem(
            f"{spec.path} is outside the project; refusing to touch it", hint=WRITE_HINT
        )
    return _Walk(parts, max(1, min(len(anchor), len(parts) - 1)))


def _refusal(parent: int, name: str, where: Path, last: bool, error: OSError) -> StackError:
    """Why ``name`` in ``parent`` could not be opened as a folder, in the scaffold's words."""
    what = "secrets directory " if last else ""
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return _problem(error, where)
    if stat.S_ISLNK(info.st_mode):
        return EnvironmentProblem(
            f"{what}{where} is a symlink; refusing to write through it", hint=WRITE_HINT
        )
    if not stat.S_ISDIR(info.st_mode):
        return EnvironmentProblem(f"{what}{where} is not a directory", hint=WRITE_HINT)
    return _problem(error, where)


def _open_child(parent: int, name: str, where: Path, last: bool, create: bool) -> tuple[int, bool]:
    """``name`` in ``parent`` as a folder descriptor (created 0700 when missing and allowed)."""
    created = False
    try:
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent), created
    except FileNotFoundError as error:
        if not create:
            raise _problem(error, where) from None
    except OSError as error:
        raise _refusal(parent, name, where, last, error) from None
    try:
        os.mkdir(name, DIR_MODE, dir_fd=parent)
        created = True
    except FileExistsError:
        pass  # it appeared meanwhile: opened and checked like any other
    except OSError as error:
        raise _problem(error, where) from None
    try:
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent), created
    except OSError as error:
        raise _refusal(parent, name, where, last, error) from None


def _check_folder(info: os.stat_result, where: Path, owner: int, last: bool) -> None:
    if info.st_uid not in {os.geteuid(), owner}:
        what = "secrets directory " if last else ""
        raise EnvironmentProblem(
            f"{what}{where} is owned by uid {info.st_uid}, not by you or the project's owner;"
            " refusing to write secrets through it",
            hint=WRITE_HINT,
        )
    if not last and info.st_mode & stat.S_IWOTH:
        raise EnvironmentProblem(
            f"{where} is writable by anyone; refusing to write secrets through it",
            hint=WRITE_HINT,
        )


def _open_folder(walk: _Walk, *, create: bool) -> int:
    """The secret's folder as a descriptor, opened one component at a time without
    following any symlink; with ``create`` missing folders are made 0700 and the
    secret's folder is tightened to 0700 (``fchmod``: whatever the umask)."""
    fd = os.open(walk.parts[0], _FOLDER_FLAGS)
    try:
        owner = os.fstat(fd).st_uid  # the owner of the project, once its folder is reached
        for index in range(1, len(walk.parts)):
            where = Path(*walk.parts[: index + 1])
            last = index == len(walk.parts) - 1
            child, created = _open_child(fd, walk.parts[index], where, last, create)
            os.close(fd)
            fd = child
            info = os.fstat(fd)
            if index < walk.checked:
                owner = info.st_uid
                continue
            _check_folder(info, where, owner, last)
            if create and (created or (last and stat.S_IMODE(info.st_mode) != DIR_MODE)):
                os.fchmod(fd, DIR_MODE)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


@contextlib.contextmanager
def _secrets_folder(spec: SecretSpec, root: Path | None) -> Iterator[int]:
    """The secret's folder as a descriptor for one change; when the path no longer leads
    to that folder afterwards (swapped during the change), the run stops."""
    walk = _walk(spec, root)
    fd = _open_folder(walk, create=True)
    try:
        yield fd
        try:
            again = _open_folder(walk, create=False)
        except (OSError, StackError):
            again = -1
        same = again >= 0 and _identity(again) == _identity(fd)
        if again >= 0:
            os.close(again)
        if not same:
            raise EnvironmentProblem(
                f"secrets directory {walk.folder} was replaced while secrets.scaffold ran"
                " (a symlink or another folder now); refusing to go on",
                hint=WRITE_HINT,
            )
    finally:
        os.close(fd)


def _chown_fd(fd: int, owner: tuple[int, int] | None) -> None:
    if owner is not None and os.geteuid() == 0:
        os.fchown(fd, *owner)


def _write_all(fd: int, value: str, owner: tuple[int, int] | None) -> None:
    os.fchmod(fd, FILE_MODE)  # the umask decides nothing
    data = value.encode("utf-8")
    while data:
        data = data[os.write(fd, data) :]
    os.fsync(fd)
    _chown_fd(fd, owner)


def _write_new(folder: int, spec: SecretSpec, value: str) -> None:
    """Exclusive create in ``folder``: fails rather than overwrite (or follow) anything."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(spec.path.name, flags, FILE_MODE, dir_fd=folder)
    try:
        _write_all(fd, value, spec.owner)
    finally:
        os.close(fd)


def _tighten(folder: int, spec: SecretSpec) -> None:
    """Mode 0600 and the declared owner, on the file itself: a symlink, FIFO or a file
    with other names (hard links) or another owner is refused."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(spec.path.name, flags, dir_fd=folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EnvironmentProblem(f"{spec.path} is not a regular file", hint=WRITE_HINT)
        if info.st_nlink != 1:
            raise EnvironmentProblem(
                f"{spec.path} has {info.st_nlink} hard links; refusing to change it",
                hint=WRITE_HINT,
            )
        owners = {os.geteuid(), os.fstat(folder).st_uid}
        if spec.owner is not None:
            owners.add(spec.owner[0])
        if info.st_uid not in owners:
            raise EnvironmentProblem(
                f"{spec.path} is owned by uid {info.st_uid}; refusing to change it",
                hint=WRITE_HINT,
            )
        os.fchmod(fd, FILE_MODE)
        _chown_fd(fd, spec.owner)
    finally:
        os.close(fd)


def _replace(folder: int, spec: SecretSpec, value: str) -> None:
    """Atomic replace for rotation: a new sibling file in ``folder``, renamed over the old."""
    name = spec.path.name
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise EnvironmentProblem(
            f"{spec.path} is a symlink or special file; refusing to rotate it", hint=WRITE_HINT
        )
    temp = f".{name}.{random.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, FILE_MODE, dir_fd=folder)
    try:
        try:
            _write_all(fd, value, spec.owner)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
        raise
    os.fsync(folder)


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
                value = _generate(spec)
                assert value is not None  # kind is known
                with _secrets_folder(spec, root) as folder:
                    _write_new(folder, spec, value)
                status = "created"
            elif status in {"wrong permissions", "wrong owner"} and fix and not check:
                with _secrets_folder(spec, root) as folder:
                    _tighten(folder, spec)
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
        with _secrets_folder(spec, root) as folder:
            _replace(folder, spec, value)
    except OSError as error:
        raise _problem(error, spec.path) from None
    return SecretStatus(spec, "rotated")
