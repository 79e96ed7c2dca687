"""Errors that end a command with a one-line message, a hint and a meaningful exit code.

The exit-code contract (enforced in ``stackctl.edge.runner``): 0 ok, 1 findings or
failures, 2 usage or environment error, 130 interrupted.
"""

from __future__ import annotations

OK = 0
FINDINGS = 1
USAGE = 2
INTERRUPTED = 130
MESSAGE_LIMIT = 240


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Fold ``text`` onto one readable line: no control bytes, no flood of escapes."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text.replace("\\n", " "))
    folded = " ".join(printable.split())
    if len(folded) <= limit:
        return folded
    # Cut in the middle: a long path must not push the reason at the end off the line.
    tail = limit // 3
    return folded[: limit - tail - 1] + "…" + folded[-tail:]


class StackError(Exception):
    """A failure the user should read, not a traceback. Exit code 1."""

    exit_code = FINDINGS

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {one_line(self.message)}"
        if self.hint:
            text += f"\n  hint: {one_line(self.hint)}"
        return text


class UsageError(StackError):
    """The command line asked for something that does not exist. Exit code 2."""

    exit_code = USAGE


class EnvironmentProblem(StackError):
    """The machine lacks something the task needs (binary, engine, file). Exit code 2."""

    exit_code = USAGE


class RenderError(StackError):
    """Compose refused to render the model; the message is compose's own first line."""

    exit_code = USAGE


class ComposeAborted(EnvironmentProblem):
    """A compose child ran past its time or memory bound and was killed."""


class Interrupted(BaseException):
    """SIGTERM arrived; it ends the command like Ctrl-C (exit 130) after cleanup."""
