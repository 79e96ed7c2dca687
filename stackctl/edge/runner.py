"""The exit-code contract, enforced in one place around every command.

0 ok, 1 findings or failures, 2 usage or environment error, 130 interrupted.
Anything a user or the machine can cause ends in one line plus a hint. An
unexpected exception ends as ``error: internal: <Type>: <message>`` with exit
2 (never 1, which would read as "checked and failed"); ``--debug`` or
``STACKCTL_DEBUG=1`` shows its traceback. SIGINT and SIGTERM are forwarded to
every compose child group, and both end the command as an interrupt.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any

from stackctl.commands import Command
from stackctl.commands.options import Raw
from stackctl.console import inert
from stackctl.errors import INTERRUPTED, OK, USAGE, Interrupted, StackError, one_line
from stackctl.project import children
from stackctl.project.render import render_cache
from stackctl.reporting import emit, format_report

DEBUG_VARIABLE = "STACKCTL_DEBUG"
DEBUG_HINT = "  hint: rerun with --debug (or STACKCTL_DEBUG=1) for the traceback"


def debug_from_env() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    children.signal_children(signum)
    # A child that ignores the signal is killed after a grace period, even while
    # worker threads still wait on it.
    reaper = threading.Timer(children.KILL_GRACE, children.kill_children, kwargs={"grace": 0.0})
    reaper.daemon = True
    reaper.start()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted


@contextlib.contextmanager
def forwarded_signals() -> Iterator[None]:
    """While a command runs, SIGINT/SIGTERM reach compose's process groups first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    children.STOPPING.clear()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _usable_streams() -> None:
    """A standard stream closed by the caller (``>&-``) becomes /dev/null, never a crash.

    The lowest free descriptor is taken, so a closed fd 1 or 2 is reopened on
    /dev/null and compose children inherit a usable one too.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            descriptor = os.open(os.devnull, os.O_WRONLY)
            setattr(sys, name, os.fdopen(descriptor, "w", encoding="utf-8"))
        elif isinstance(stream, io.TextIOWrapper):
            # An ASCII-only stdout (PYTHONIOENCODING=ascii, some CI) shows \xe9, never crashes.
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


def _silence_stdout() -> None:
    """The reader of stdout went away (``| head``): the rest of the report goes nowhere.

    The descriptor itself is pointed at /dev/null so the interpreter's final
    flush of what is still buffered cannot fail again at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _describe_os_error(error: OSError) -> str:
    where = error.filename
    reason = error.strerror or str(error)
    if where is not None:
        return f"{where}: {reason}"
    return reason


def execute(command: Command[Any], raw: Raw, *, debug: bool = False) -> int:
    """Parse, run and report ``command``; return its exit code under the contract."""
    _usable_streams()
    try:
        # One render cache per command: its parse and run never render the same twice.
        with forwarded_signals(), render_cache():
            try:
                options = command.parse(raw)
                outcome = command.run(options)
                report_to = command.report_to(options)
                try:
                    emit(format_report(outcome, report_to.fmt), report_to.output)
                    sys.stdout.flush()
                except BrokenPipeError:
                    # The reader stopped reading on purpose; the verdict still stands.
                    _silence_stdout()
                if outcome.problem is not None:
                    print(inert(outcome.problem.render()), file=sys.stderr)
                return outcome.exit_code
            finally:
                children.kill_children()
    except StackError as error:
        # compose's error lines quote project text: no control character reaches the terminal.
        print(inert(error.render()), file=sys.stderr)
        return error.exit_code
    except (KeyboardInterrupt, Interrupted):
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # stdout's reader left while output was streaming (``logs | head``): that is its choice.
        _silence_stdout()
        return OK
    except RecursionError as error:
        if debug:
            traceback.print_exc()
        where = "" if str(error).startswith("maximum recursion") else f": {error}"
        print(
            f"error: the project nests YAML or JSON too deeply to read{one_line(where)}"
            "\n  hint: flatten the deepest value (often under an x- extension field)",
            file=sys.stderr,
        )
        return USAGE
    except OSError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {one_line(_describe_os_error(error))}", file=sys.stderr)
        return USAGE
    except Exception as error:  # the contract's last line: never a bare traceback
        if debug:
            traceback.print_exc()
        print(
            f"error: internal: {type(error).__name__}: {one_line(str(error))}\n{DEBUG_HINT}",
            file=sys.stderr,
        )
        return USAGE
