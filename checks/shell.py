"""What a POSIX shell script runs: its command words, and the constructs only bash has.

Pure text analysis, no shell is started. The image rules use it to hold a
healthcheck script to the tools and the ``/bin/sh`` an image's facts record.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache

# Builtins of every POSIX shell here (dash, busybox/ash, bash): no binary needed.
SHELL_BUILTINS = frozenset(
    {
        ":",
        ".",
        "[",
        "[[",
        "cd",
        "command",
        "echo",
        "eval",
        "exec",
        "exit",
        "export",
        "false",
        "kill",
        "printf",
        "pwd",
        "read",
        "return",
        "set",
        "shift",
        "test",
        "trap",
        "true",
        "type",
        "ulimit",
        "umask",
        "unset",
        "wait",
    }
)
SHELL_KEYWORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "while",
        "until",
        "{",
        "}",
        "!",
        "exec",
        "esac",
    }
)
# A shell's program name -> the /bin/sh kind it requires ("" for whatever sh is).
SHELL_NAMES = {"sh": "", "bash": "bash", "dash": "dash", "ash": "ash"}
BASH_ONLY = (
    (re.compile(r"/dev/(tcp|udp)/"), "/dev/{0}"),
    (re.compile(r"\[\["), "[["),
    (re.compile(r"[<>]\("), "process substitution"),
    (re.compile(r"\$'"), "$'...' quoting"),
    (re.compile(r"\{[^{}\s,]*\.\.[^{}\s,]*\}"), "{{a..b}} ranges"),
)
REDIRECTIONS = frozenset({"<", ">", ">>", "<>", ">&", "<&", "&>", "&>>", ">|", "<<", "<<<"})
OPERATORS = frozenset({"&&", "||", ";", ";;", "|", "|&", "&", "(", ")"})
ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@lru_cache(maxsize=1024)
def _command_words(script: str) -> tuple[tuple[str, ...], str]:
    """The command names a shell script runs, or an error when it cannot be split.

    Words in command position count: the first word of the script and the first
    after ``&&``, ``||``, ``;``, ``|``, ``(`` or ``)``, skipping keywords,
    ``VAR=x`` assignments and redirections (``3<>/dev/tcp/...``, ``>&3``).
    ``command -v x`` only looks ``x`` up, so it runs nothing.
    """
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as error:
        return (), str(error)
    words: list[str] = []
    at_command, skip_target, after_command = True, False, False
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if skip_target:
            skip_target = False
        elif token in REDIRECTIONS:
            skip_target = True
        elif token.isdecimal() and following in REDIRECTIONS:
            continue  # a file descriptor number in front of a redirection
        elif token in OPERATORS:
            at_command, after_command = True, False
        elif not at_command:
            continue
        elif after_command and token.startswith("-"):
            at_command = token not in {"-v", "-V"}
        elif token == "command":
            after_command = True
        elif token in SHELL_KEYWORDS or ASSIGNMENT_RE.match(token):
            continue
        elif token in {"for", "case", "select"}:
            at_command = False  # their next words are names and patterns, not commands
        else:
            words.append(token)
            at_command = after_command = False
    return tuple(words), ""


def command_words(script: str) -> tuple[list[str], str]:
    """The command names a shell script runs, or an error when it cannot be split.

    Words in command position count (see ``_command_words``). Rules ask for the same
    healthcheck in every selection a service is part of: the split runs once per script.
    """
    words, error = _command_words(script)
    return list(words), error


def bash_only_constructs(script: str) -> list[str]:
    """Labels of the bash-only constructs in ``script`` (``/dev/tcp``, ``[[``, ...)."""
    found = []
    for pattern, label in BASH_ONLY:
        match = pattern.search(script)
        if match:
            found.append(label.format(*match.groups()))
    return found
