"""nox sessions: the same commands CI runs. ``nox -l`` lists them.

Every session installs the project from pyproject.toml into its own
environment; reuse (``-R``) makes a warm run cost little more than the work.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["validate", "lint", "typecheck", "tests"]

PYTHON = "3.11"


def install(session: nox.Session, *extras: str) -> None:
    """Install the project (with optional extras) unless reusing a ready environment."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session(python=PYTHON)
def validate(session: nox.Session) -> None:
    """The whole verdict: VAL-OPT-001/002 matrix, then the policy checks; -- --exhaustive."""
    install(session)
    # One process for both, so check reuses the renders validate made.
    session.run("python", "-m", "stackctl", "gate", *session.posargs)


@nox.session(python=PYTHON)
def checks(session: nox.Session) -> None:
    """Policy checks over the matrix; e.g. -- --format sarif --output reports/checks.sarif."""
    install(session)
    session.run("python", "-m", "stackctl", "check", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the pytest suite (engine tests start or reuse a local Docker engine)."""
    install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def fast(session: nox.Session) -> None:
    """The fast tier: no engine, no render of the whole stack; for every edit of a rule."""
    install(session, "test")
    session.run("pytest", "-m", "not slow", *session.posargs)


FIXTURE_STACK = "tests/fixtures/opsstack"
FIXTURE_PROFILES = "core,data,app,nonroot"  # every service of the fixture that should be healthy


@nox.session(python=PYTHON)
def smoke(session: nox.Session) -> None:
    """Start, verify, probe and remove a selection in a throwaway project on a real engine.

    Default: the fixture stack (a copy with fresh secrets and the busybox image).
    `-- --stack --profiles core,data`: the real stack, wherever its images are
    present locally (exit 3 with one line where they are not). JUnit goes to
    reports/smoke-junit.xml unless `-- --junit PATH`.
    """
    install(session)
    args = list(session.posargs)
    if "--stack" in args:
        args.remove("--stack")
        session.run("python", "-m", "stackctl", "smoke", *args)
        return
    if not any(arg.startswith("--profiles") for arg in args):
        args += ["--profiles", FIXTURE_PROFILES]
    session.run(
        "python", "-m", "stackctl", "smoke", "--fixture", "--project-dir", FIXTURE_STACK, *args
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """End-to-end benchmarks as ratios to the tools users would pick instead (README table)."""
    install(session, "bench", "test")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and the import contract (lint-imports)."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The layers of ARCHITECTURE.md, declared in pyproject.toml [tool.importlinter].
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the packages, tasks.py and noxfile.py."""
    install(session, "typecheck")
    session.run("mypy")
