"""Errors that end a task with a one-line message, a hint and a meaningful exit code."""

from __future__ import annotations


class StackError(Exception):
    """A failure the user should read, not a traceback. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(StackError):
    """The command line asked for something that does not exist. Exit code 2."""

    exit_code = 2


class EnvironmentProblem(StackError):
    """The machine lacks something the task needs (binary, engine, file). Exit code 2."""

    exit_code = 2


class RenderError(StackError):
    """Compose refused to render the model; the message is compose's own first line."""

    exit_code = 2
