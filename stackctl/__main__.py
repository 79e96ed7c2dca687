"""``python -m stackctl <command>``: the entry point nox sessions and CI use."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stackctl import app
from stackctl.model import render_cache


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stackctl", description=__doc__)
    parser.add_argument("--project", default=".", help="project directory (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="VAL-OPT-001/002 compose validation matrix")
    validate.add_argument("--profiles", action="append", default=[], help="e.g. core,data")
    validate.add_argument("--format", default="table", choices=["table", "json", "junit"])
    validate.add_argument("--output", help="write the report to this file")
    validate.add_argument("--env-file", default=app.VALIDATION_ENV_FILE)
    validate.add_argument(
        "--exhaustive", action="store_true", help="every profile selection, from one render"
    )
    _cross_check_options(validate)

    check = commands.add_parser("check", help="policy checks (checks/) over the profile matrix")
    check.add_argument("--profiles", action="append", default=[], help="e.g. core,data")
    check.add_argument("--format", default="table", choices=["table", "json", "sarif", "junit"])
    check.add_argument("--output", help="write the report to this file")
    check.add_argument("--fail-on", default="high", help="lowest failing severity (default: high)")
    check.add_argument("--env-file", default=app.VALIDATION_ENV_FILE)
    _cross_check_options(check)

    verify = commands.add_parser(
        "verify", help="validate, then check, in one process: no render runs twice"
    )
    verify.add_argument("--exhaustive", action="store_true", help="validate every selection")
    verify.add_argument("--env-file", default=app.VALIDATION_ENV_FILE)
    _cross_check_options(verify)

    profiles = commands.add_parser("profiles", help="the profile dependency graph")
    profiles.add_argument("--format", default="table", choices=["table", "json"])
    profiles.add_argument("--env-file", default=app.VALIDATION_ENV_FILE)
    return parser


def _cross_check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="seed of the cross-check sample (default: random)")
    parser.add_argument(
        "--sample", type=int, default=2, help="selections re-rendered by compose (default: 2)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "validate":
        return app.validate_command(
            args.project,
            args.profiles,
            args.format,
            args.output,
            args.env_file,
            args.exhaustive,
            args.seed,
            args.sample,
        )
    if args.command == "check":
        return app.check_command(
            args.project,
            args.profiles,
            args.format,
            args.output,
            args.fail_on,
            args.env_file,
            args.seed,
            args.sample,
        )
    if args.command == "verify":
        with render_cache():
            validated = app.validate_command(
                args.project,
                exhaustive=args.exhaustive,
                env_file=args.env_file,
                seed=args.seed,
                sample=args.sample,
            )
            checked = app.check_command(
                args.project, env_file=args.env_file, seed=args.seed, sample=args.sample
            )
        return max(validated, checked)
    if args.command == "profiles":
        return app.profiles_command(args.project, args.format, args.env_file)
    return 2  # unreachable: argparse enforces the choices


if __name__ == "__main__":
    sys.exit(main())
