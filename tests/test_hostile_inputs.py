"""Hostile inputs: odd projects, odd environments and odd terminals a newcomer brings.

The table runs through the bad-input corpus harness (``tests/test_bad_inputs.py``):
real processes on every entry point, a dead ``DOCKER_HOST``, and a snapshot of
the secrets, the registry, the state root and the ``outside`` directory before
and after, so a case also fails when it changed host state. The tests below the
table cover what the table cannot express: closed and broken standard streams
and the env-file reader.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_bad_inputs import DEAD_ENGINE, INV, MOD, SCR, Case, Place, Ran, run_case, write

from checks.compose_files import parse_env_file
from checks.stack import ProjectFacts
from conftest import FIXTURES

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

# -- setups -----------------------------------------------------------------------

OUTSIDE_SECRET = "outside_token"


def secret_declared_outside(place: Place) -> None:
    """A secret whose ``file:`` is an absolute path to a host file outside the project."""
    host_file = place.outside / "host-file"
    write(host_file, "an unrelated host file\n")
    host_file.chmod(0o644)
    root = place.project / "docker-compose.yml"
    text = root.read_text()
    text = text.replace(
        "secrets:\n", f"secrets:\n  {OUTSIDE_SECRET}: {{file: {host_file}}}\n", 1
    ).replace("x-secret-generators:\n", f"x-secret-generators:\n  {OUTSIDE_SECRET}: hex\n", 1)
    root.write_text(text)
    web = place.project / "infra" / "10-core" / "web" / "docker-compose.yml"
    web.write_text(web.read_text().replace("[web_token]", f"[web_token, {OUTSIDE_SECRET}]"))


def project_dir_is_file(place: Place) -> None:
    write(place.outside / "a-file", "not a directory\n")


def project_dir_loops(place: Place) -> None:
    (place.outside / "loop").symlink_to(place.outside / "loop")


def registry_loops(place: Place) -> None:
    registry = place.project / "infra" / "exceptions.yml"
    registry.unlink(missing_ok=True)
    registry.symlink_to(registry)


def deep_value(depth: int) -> str:
    return "[" * depth + "]" * depth


def unloaded_file_too_deep(place: Place) -> None:
    """A compose file nothing includes (a vendored copy), nested deeper than Python recurses."""
    write(place.project / "vendor" / "compose.yml", f"x-deep: {deep_value(5000)}\n")


def unloaded_file_not_utf8(place: Place) -> None:
    write(place.project / "vendor" / "compose.yml", b"services:\n  caf\xe9:\n    image: a\n")
    # Files nothing loads are judged by the layout rules, which the platform set holds.
    write(place.project / ".stackctl.toml", 'rule-set = "platform"\n')


def loaded_extension_too_deep(place: Place) -> None:
    root = place.project / "docker-compose.yml"
    root.write_text(root.read_text() + f"\nx-deep: {deep_value(900)}\n")


def root_is_compose_yaml(place: Place) -> None:
    (place.project / "docker-compose.yml").rename(place.project / "compose.yaml")


def unicode_service(place: Place) -> None:
    web = place.project / "infra" / "10-core" / "web" / "docker-compose.yml"
    web.write_text(
        web.read_text().replace("services:\n", "services:\n  café:\n    image: a:1\n", 1)
    )


LONG_NAME = "a" * 5000

CASES = [
    # a compose file may name any host path as a secret file: it is never created,
    # chmodded (nor its folder) or replaced; `outside` is snapshotted by the harness
    Case(
        "secret-outside-rotate",
        INV,
        ("secrets.scaffold", "--rotate", OUTSIDE_SECRET, "--yes"),
        2,
        "host-file is outside the project; refusing to rotate it",
        setup=secret_declared_outside,
    ),
    Case(
        "secret-outside-fix",
        MOD,
        ("secrets.scaffold", "--fix"),
        2,
        "or outside the project: {outside}/host-file",
        setup=secret_declared_outside,
    ),
    Case(
        "secret-outside-scaffold",
        SCR,
        ("secrets.scaffold",),
        2,
        "or outside the project: {outside}/host-file",
        setup=secret_declared_outside,
    ),
    Case(
        "secret-outside-check",
        SCR,
        ("secrets.scaffold", "--check"),
        1,
        "outside the project (refused)",
        setup=secret_declared_outside,
    ),
    # bounds from the environment: huge values are usage errors, not overflows
    Case(
        "compose-timeout-huge",
        MOD,
        ("validate",),
        2,
        "STACKCTL_COMPOSE_TIMEOUT='1e300' is not a number from 1 to",
        env={"STACKCTL_COMPOSE_TIMEOUT": "1e300"},
    ),
    Case(
        "compose-memory-huge",
        INV,
        ("check",),
        2,
        "STACKCTL_COMPOSE_MEMORY_MB='1e20' is not a number from 1024 to",
        env={"STACKCTL_COMPOSE_MEMORY_MB": "1e20"},
    ),
    # an empty value is a usage error, as for every other text flag
    Case(
        "deploy-probe-image-empty",
        SCR,
        ("deploy", "--profiles", "core", "--probe-image", ""),
        2,
        "--probe-image is empty",
    ),
    # the project directory and files are not what they claim to be
    Case(
        "project-dir-is-file",
        SCR,
        ("check", "--project-dir", "{outside}/a-file"),
        2,
        "project directory {outside}/a-file is not a directory",
        setup=project_dir_is_file,
    ),
    Case(
        "project-dir-symlink-loop",
        MOD,
        ("validate", "--project-dir", "{outside}/loop"),
        2,
        "project directory {outside}/loop cannot be resolved",
        setup=project_dir_loops,
    ),
    Case("compose-file-is-dir", MOD, ("check", "-f", "infra"), 2, "infra is not a regular file"),
    # under invoke, -f after a task is the task's --file, not invoke's --config
    Case("invoke-short-file-flag", INV, ("check", "-f", "infra"), 2, "infra is not a regular file"),
    Case("invoke-short-file-yml", INV, ("validate", "-f", "nosuch.yml"), 2, "no compose file"),
    Case(
        "project-dir-name-too-long",
        SCR,
        ("ps", "--project-dir", LONG_NAME),
        2,
        "File name too long",
    ),
    Case(
        "registry-symlink-loop",
        MOD,
        ("check",),
        1,
        "infra/exceptions.yml is a symlink loop",
        setup=registry_loops,
    ),
    # files compose never loads must not stop a check
    Case(
        "unloaded-compose-too-deep",
        SCR,
        ("check", "--format", "json"),
        0,
        '"exit_code": 0',
        setup=unloaded_file_too_deep,
    ),
    Case(
        "unloaded-compose-not-utf8",
        INV,
        ("check", "--format", "json"),
        1,
        '"subject": "vendor/compose.yml"',  # found and judged like any stray compose file
        setup=unloaded_file_not_utf8,
    ),
    # a loaded file deeper than the facts' depth bound (checks.locate.MAX_DEPTH) ends
    # the run in one line, before any render
    Case(
        "loaded-extension-too-deep",
        MOD,
        ("check",),
        2,
        "nests deeper than 100 levels",
        setup=loaded_extension_too_deep,
    ),
    # compose's own default file name, as compose picks it
    Case("root-compose-yaml", SCR, ("validate",), 0, "VAL-OPT-001", setup=root_is_compose_yaml),
    # an ASCII-only stdout still gets the report, with escapes
    Case(
        "ascii-stdout-unicode-report",
        MOD,
        ("validate",),
        1,
        "caf\\xe9",
        setup=unicode_service,
        env={"PYTHONIOENCODING": "ascii"},
    ),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Ran]]:
    base = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=4) as pool:
        ran = list(pool.map(lambda c: run_case(base, c), CASES))
    yield {case.id: result for case, result in zip(CASES, ran, strict=True)}


def test_cases_cover_every_entry_point() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.entry for c in CASES} == {INV, MOD, SCR}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, hostile: dict[str, Ran]) -> None:
    ran = hostile[case.id]
    output = ran.output
    assert "Traceback" not in output, output
    assert "internal:" not in output, output
    assert ran.done.returncode == case.code, output
    fragment = case.fragment.format(project=ran.place.project, outside=ran.place.outside)
    assert fragment in output, output
    assert ran.after == ran.before, "the command changed a watched file"


# -- standard streams -------------------------------------------------------------------


def _fixture_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    subprocess.run(["cp", "-r", str(FIXTURES / "opsstack"), str(project)], check=True)
    return project


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STACKCTL_DEBUG", "COMPOSE_BIN")}
    env["DOCKER_HOST"] = DEAD_ENGINE
    return env


def _close(descriptors: tuple[int, ...]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)


@pytest.mark.parametrize("closed", [(1,), (1, 2)], ids=["stdout", "stdout-and-stderr"])
def test_closed_stdout_is_no_crash(tmp_path: Path, closed: tuple[int, ...]) -> None:
    """``stackctl check >&-``: the verdict's exit code (0 here), not an internal error (2)."""
    project = _fixture_copy(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "stackctl", "check", "--project-dir", str(project)],
        env=_environment(),
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: _close(closed),  # the child starts with these descriptors closed
        check=False,
        timeout=120,
    )
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("command", "expected"), [(("check", "--format", "json"), 0), (("validate",), 0)]
)
def test_a_reader_that_leaves_the_pipe_keeps_the_verdict(
    tmp_path: Path, command: tuple[str, ...], expected: int
) -> None:
    """``stackctl check | head -1``: no 'Broken pipe' error, the exit code of the verdict."""
    project = _fixture_copy(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the report is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "stackctl", *command, "--project-dir", str(project)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_environment(),
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert "Broken pipe" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode == expected, done.stderr


# -- env files read like compose reads them ----------------------------------------------


def test_env_file_with_bom_export_crlf_quotes_and_comments() -> None:
    text = (
        "\ufeffexport TAG=1.0\r\n"
        'QUOTED="a value"\r\n'
        "EMPTY=\r\n"
        "MULTI='first\nsecond'\n"
        "COMMENTED=plain # a note\n"
        "exported=kept\n"
    )
    assert parse_env_file(text) == {
        "TAG": "1.0",
        "QUOTED": "a value",
        "EMPTY": "",
        "MULTI": "first\nsecond",
        "COMMENTED": "plain",
        "exported": "kept",
    }


def test_project_facts_state_root_survives_an_odd_env_example(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: a:1\n")
    (tmp_path / ".env.example").write_bytes(
        b"\xef\xbb\xbfexport DEFAULT_MOUNT_VOLUME_PATH='/srv/state/'\r\n"
    )
    facts = ProjectFacts.read(tmp_path)
    assert facts.state_root == "/srv/state"
    assert facts.root_name == "compose.yaml"
