"""``python -m stackctl`` and the ``stackctl`` script, built from the command declarations."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from stackctl.commands import Command, all_commands, commands_of
from stackctl.commands.options import Option, RawValue
from stackctl.edge.runner import debug_from_env, execute
from stackctl.errors import USAGE


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line plus a hint and exit 2 like every other."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"error: {message}\n  hint: {self.prog} --help lists the options\n")
        raise SystemExit(USAGE)


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    flags = [option.flag] + ([f"-{option.short}"] if option.short else [])
    if option.kind == "flag":
        parser.add_argument(*flags, dest=option.name, action="store_true", help=option.help)
    elif option.kind == "list":
        parser.add_argument(
            *flags, dest=option.name, action="append", default=None, help=option.help
        )
    else:
        metavar = "N" if option.kind == "number" else option.name.upper()
        parser.add_argument(*flags, dest=option.name, metavar=metavar, help=option.help)


def build_parser(commands: dict[str, Command[Any]] | None = None) -> argparse.ArgumentParser:
    commands = all_commands() if commands is None else commands
    parser = _Parser(prog="stackctl", description="Validate, check and operate the platform stack.")
    parser.add_argument(
        "--project-dir",
        dest="global_project_dir",
        metavar="DIR",
        help="project directory for every command (default: .)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an internal error"
    )
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in commands.items():
        sub = verbs.add_parser(name, help=command.summary, description=command.doc)
        for option in command.options:
            _add_option(sub, option)
        sub.add_argument(
            "--debug", dest="command_debug", action="store_true", help="show internal tracebacks"
        )
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The command named on the line, past the global options; None when there is none."""
    words = iter(argv)
    for word in words:
        if word == "--project-dir":
            next(words, None)
        elif word.startswith("-"):
            continue  # --debug, --project-dir=DIR, --help: the full parser answers
        else:
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    word = _command_word(argv)
    # One command runs: import its module only (the rules, the engine and Swarm code stay
    # unloaded for `up`); without a known command word, every command for --help.
    helping = any(flag in ("-h", "--help") for flag in argv[: argv.index(word)]) if word else True
    commands = (None if helping or word is None else commands_of(word)) or all_commands()
    args = build_parser(commands).parse_args(argv)
    command = commands[args.command]
    raw: dict[str, RawValue] = {o.name: getattr(args, o.name) for o in command.options}
    if raw.get("project_dir") is None and args.global_project_dir is not None:
        raw["project_dir"] = args.global_project_dir
    debug = args.debug or args.command_debug or debug_from_env()
    return execute(command, raw, debug=debug)


def console() -> None:
    """Entry point of the ``stackctl`` console script."""
    sys.exit(main())
