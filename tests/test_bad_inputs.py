"""The bad-input corpus: what a new user types wrong, and what each entry point must answer.

Every case names a command, an input (set up in a fresh copy of the fixture
stack), the exit code and a fragment of the message that names the file,
flag or value at fault. Each case asserts:

- no Python traceback in the output;
- the exit code of the contract (0 ok, 1 findings, 2 usage/environment);
- the message names what is wrong;
- nothing changed: mode, owner and sha256 of ``secrets/``, ``.env``, the state
  root, the exceptions registry and everything a symlink points to (kept in
  an ``outside`` directory next to the project).

The cases run as real processes (invoke, ``python -m stackctl`` and the
``stackctl`` script), in parallel, against a dead ``DOCKER_HOST`` unless a
case is about the engine itself, so none of them can touch a real engine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO
from stackctl.commands import all_commands

# Every test here starts stackctl or invoke, renders the whole stack, or needs the engine.
pytestmark = pytest.mark.slow

DEAD_ENGINE = "unix:///nonexistent/edge-corpus.sock"
SCRIPT = Path(sys.executable).parent / "stackctl"


@dataclass(frozen=True)
class Place:
    """Where one case runs: its project copy and a directory outside it."""

    project: Path
    outside: Path
    state: Path


Setup = Callable[[Place], None]


def nothing(_: Place) -> None:
    pass


@dataclass(frozen=True)
class Case:
    id: str
    entry: str  # invoke | module | script
    args: tuple[str, ...]
    code: int
    fragment: str  # may name {project} or {outside}
    setup: Setup = nothing
    env: Mapping[str, str] = field(default_factory=dict)
    read_only: str = ""  # a path (relative to the project) mounted read-only for the run


# -- setups -----------------------------------------------------------------------


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def registry(content: str | bytes) -> Setup:
    def setup(place: Place) -> None:
        write(place.project / "infra" / "exceptions.yml", content)

    return setup


def registry_is_dir(place: Place) -> None:
    (place.project / "infra" / "exceptions.yml").mkdir(parents=True)


def registry_is_fifo(place: Place) -> None:
    os.mkfifo(place.project / "infra" / "exceptions.yml")


def registry_links_outside(place: Place) -> None:
    write(place.outside / "exceptions.yml", "exceptions: []\n")
    (place.project / "infra" / "exceptions.yml").symlink_to(place.outside / "exceptions.yml")


def entry_with_date(date: str) -> Setup:
    def setup(place: Place) -> None:
        write(place.project / "docs" / "adr" / "0001-x.md", "# ADR\n")
        write(
            place.project / "infra" / "exceptions.yml",
            "exceptions:\n"
            "  - service: web\n"
            "    rule: PRIV-005\n"
            "    relaxes: CHOWN\n"
            "    rationale: needed\n"
            "    adr: docs/adr/0001-x.md\n"
            f"    expires: {date}\n",
        )

    return setup


def secrets_is_file(place: Place) -> None:
    write(place.project / "secrets", "not a directory\n")


def secrets_dir(place: Place) -> Path:
    directory = place.project / "secrets"
    directory.mkdir(mode=0o700, exist_ok=True)
    directory.chmod(0o700)
    return directory


def secret_links_outside(place: Place) -> None:
    target = place.outside / "precious"
    write(target, "an unrelated host file\n")
    target.chmod(0o644)
    (secrets_dir(place) / "web_token").symlink_to(target)


def secret_is_fifo(place: Place) -> None:
    os.mkfifo(secrets_dir(place) / "web_token", 0o644)


def secrets_links_outside(place: Place) -> None:
    target = place.outside / "elsewhere"
    target.mkdir(mode=0o755)
    (place.project / "secrets").symlink_to(target)


def empty_secrets(place: Place) -> None:
    secrets_dir(place)


def loose_secret(place: Place) -> None:
    write(secrets_dir(place) / "web_token", "0123456789abcdef\n")
    (place.project / "secrets" / "web_token").chmod(0o644)


def env_file(content: str | bytes, name: str = ".env") -> Setup:
    def setup(place: Place) -> None:
        write(place.project / name, content)

    return setup


def env_is_dir(place: Place) -> None:
    (place.project / ".env").mkdir()


def service_links_outside(place: Place) -> None:
    """The web service file replaced by a symlink to a self-contained file elsewhere."""
    target = place.outside / "web.yml"
    write(
        target,
        "services:\n"
        "  web:\n"
        "    image: stackctl-test/busybox:1.0\n"
        "    profiles: [core]\n"
        "    command: [sleep, '1']\n",
    )
    link = place.project / "infra" / "10-core" / "web" / "docker-compose.yml"
    link.unlink()
    link.symlink_to(target)


def baseline_links_outside(place: Place) -> None:
    write(place.outside / "accepted.json", '{"schema_version": 1, "findings": []}\n')
    (place.project / ".stackctl-baseline.json").symlink_to(place.outside / "accepted.json")


def combine(*setups: Setup) -> Setup:
    def setup(place: Place) -> None:
        for step in setups:
            step(place)

    return setup


BINARY = bytes(range(256)) * 4
GOOD_ENV = (
    "COMPOSE_PROJECT_NAME=edgecorpus\nLOG_DRIVER=local\nTEST_IMAGE=stackctl-test/busybox:1.0\n"
)


# -- the corpus ----------------------------------------------------------------------

INV, MOD, SCR = "invoke", "module", "script"
CASES = [
    # --output: checked before any work; the path is named
    Case(
        "output-dir-check", INV, ("check", "--output", "{outside}"), 2, "{outside} is a directory"
    ),
    Case("output-dir-validate", INV, ("validate", "--output", "{outside}"), 2, "is a directory"),
    Case(
        "output-file-parent",
        SCR,
        ("validate", "--output", "{outside}/f/r.json"),
        2,
        "{outside}/f is not a directory",
        setup=lambda p: write(p.outside / "f", "x"),
    ),
    Case(
        "output-dev-full",
        INV,
        ("check", "--output", "/dev/full"),
        2,
        "--output /dev/full is not a regular file",
    ),
    Case("output-empty", MOD, ("validate", "--output", ""), 2, "--output is empty"),
    Case("output-ps-dir", SCR, ("ps", "--output", "{outside}"), 2, "is a directory"),
    Case(
        "output-read-only-dir",
        MOD,
        ("check", "--output", "{outside}/ro/report.json"),
        2,
        "{outside}/ro",
        setup=lambda p: (p.outside / "ro").mkdir(),
        read_only="{outside}/ro",
    ),
    # infra/exceptions.yml: never a traceback, never silently ignored (EXC-001 fails the gate)
    Case(
        "registry-invalid-yaml",
        INV,
        ("check",),
        1,
        "is not valid YAML at line",
        setup=registry("exceptions: [\n  - {service: web\n"),
    ),
    Case(
        "registry-impossible-date",
        MOD,
        ("check",),
        1,
        "expires",
        setup=entry_with_date("2027-02-30"),
    ),
    Case(
        "registry-not-utf8",
        SCR,
        ("check",),
        1,
        "infra/exceptions.yml is not UTF-8",
        setup=registry(b"exceptions:\n  - service: \xff\xfe\n"),
    ),
    Case(
        "registry-top-level-list", INV, ("check",), 1, "must be a mapping", setup=registry("- a\n")
    ),
    Case(
        "registry-directory",
        INV,
        ("check",),
        1,
        "infra/exceptions.yml is a directory",
        setup=registry_is_dir,
    ),
    Case("registry-fifo", MOD, ("check",), 1, "is not a regular file", setup=registry_is_fifo),
    Case(
        "registry-symlink-outside",
        INV,
        ("check",),
        1,
        "leads outside the project",
        setup=registry_links_outside,
    ),
    Case(
        "registry-exceptions-not-list",
        SCR,
        ("check", "--format", "json"),
        1,
        "`exceptions:` must be a list",
        setup=registry("exceptions: web\n"),
    ),
    Case(
        "registry-misspelt-top-level-key",
        MOD,
        ("check",),
        1,
        "unknown top-level key 'exception' (did you mean 'exceptions'?)",
        setup=registry("exception: []\n"),
    ),
    # secrets/: a file, a symlink, special files, read-only; nothing outside is touched
    Case(
        "secrets-is-file",
        INV,
        ("secrets.scaffold",),
        2,
        "{project}/secrets is not a directory",
        setup=secrets_is_file,
    ),
    Case(
        "secrets-is-file-check",
        MOD,
        ("secrets.scaffold", "--check"),
        2,
        "secrets is not a directory",
        setup=secrets_is_file,
    ),
    Case(
        "secrets-dir-symlink-out",
        SCR,
        ("secrets.scaffold",),
        2,
        "{project}/secrets is a symlink",
        setup=secrets_links_outside,
    ),
    Case(
        "secret-symlink-fix",
        INV,
        ("secrets.scaffold", "--fix"),
        2,
        "symlinks or special files: {project}/secrets/web_token",
        setup=secret_links_outside,
    ),
    Case(
        "secret-symlink-scaffold",
        SCR,
        ("secrets.scaffold",),
        2,
        "refusing to touch secrets",
        setup=secret_links_outside,
    ),
    Case(
        "secret-symlink-check",
        MOD,
        ("secrets.scaffold", "--check"),
        1,
        "symlink (refused)",
        setup=secret_links_outside,
    ),
    Case(
        "secret-fifo-fix",
        INV,
        ("secrets.scaffold", "--fix"),
        2,
        "special files: {project}/secrets/web_token",
        setup=secret_is_fifo,
    ),
    Case(
        "secret-symlink-rotate",
        INV,
        ("secrets.scaffold", "--rotate", "web_token", "--yes"),
        2,
        "secrets/web_token is a symlink or special file",
        setup=secret_links_outside,
    ),
    Case(
        "secrets-read-only",
        INV,
        ("secrets.scaffold",),
        2,
        "Read-only file system",
        setup=empty_secrets,
        read_only="secrets",
    ),
    Case(
        "secrets-read-only-fix",
        MOD,
        ("secrets.scaffold", "--fix"),
        2,
        "secrets/keeper_key: Read-only file system",
        setup=loose_secret,
        read_only="secrets",
    ),
    Case(
        "rotate-needs-yes",
        INV,
        ("secrets.scaffold", "--rotate", "web_token"),
        2,
        "--rotate web_token --yes",
    ),
    Case("rotate-empty", SCR, ("secrets.scaffold", "--rotate", ""), 2, "--rotate is empty"),
    Case(
        "rotate-unknown",
        INV,
        ("secrets.scaffold", "--rotate", "nope", "--yes"),
        2,
        "unknown secret 'nope'",
    ),
    Case(
        "check-and-fix", MOD, ("secrets.scaffold", "--check", "--fix"), 2, "--check changes nothing"
    ),
    # .env and --env-file: a directory, binary, garbage, missing; always named
    Case(
        "env-binary-scaffold",
        INV,
        ("secrets.scaffold",),
        2,
        "{project}/.env is not UTF-8",
        setup=env_file(BINARY),
    ),
    Case(
        "env-binary-up",
        INV,
        ("up", "--profiles", "core"),
        2,
        ".env is not UTF-8",
        setup=env_file(BINARY),
    ),
    Case("env-dir-ps", INV, ("ps",), 2, "{project}/.env is a directory", setup=env_is_dir),
    Case(
        "env-dir-scaffold", SCR, ("secrets.scaffold",), 2, ".env is a directory", setup=env_is_dir
    ),
    Case("env-dir-down", MOD, ("down",), 2, ".env is a directory", setup=env_is_dir),
    Case(
        "env-file-garbage-validate",
        INV,
        ("validate", "--env-file", "bad.env"),
        2,
        "failed to read bad.env: line",
        setup=env_file("A=1\nB='unterminated\n", "bad.env"),
    ),
    Case(
        "env-file-binary-validate",
        MOD,
        ("validate", "--env-file", "bin.env"),
        2,
        "bin.env is not UTF-8",
        setup=env_file(BINARY, "bin.env"),
    ),
    Case(
        "env-file-missing",
        INV,
        ("check", "--env-file", "missing.env"),
        2,
        "{project}/missing.env is missing",
    ),
    Case("env-file-dir", SCR, ("check", "--env-file", "{outside}"), 2, "is a directory"),
    Case(
        "project-name-bad",
        MOD,
        ("validate",),
        2,
        'invalid project name "bad name!"',
        env={"COMPOSE_PROJECT_NAME": "bad name!"},
    ),
    Case(
        "project-dir-missing",
        SCR,
        ("check", "--project-dir", "{outside}/nope"),
        2,
        "{outside}/nope does not exist",
    ),
    Case(
        "compose-file-missing",
        MOD,
        ("check", "--file", "missing.yml"),
        2,
        "no compose file {project}/missing.yml",
    ),
    Case(
        "project-name-flag-bad",
        SCR,
        ("validate", "--project-name", "Bad Name"),
        2,
        'invalid project name "Bad Name"',
    ),
    Case("project-name-empty", INV, ("check", "--project-name", ""), 2, "--project-name is empty"),
    # --profiles: empty selections are usage errors everywhere; '*' is the only "all"
    Case(
        "down-profiles-empty", INV, ("down", "--profiles", ""), 2, "--profiles '' names no profile"
    ),
    Case("down-profiles-commas", INV, ("down", "--profiles", ",,"), 2, "--profiles ',,'"),
    Case("up-profiles-empty", INV, ("up", "--profiles", ""), 2, "names no profile"),
    Case("check-profiles-commas", MOD, ("check", "--profiles", ",,"), 2, "names no profile"),
    Case("validate-profiles-empty", SCR, ("validate", "--profiles", ""), 2, "names no profile"),
    Case(
        "loki-profiles-blank", INV, ("loki.preflight", "--profiles", " , "), 2, "names no profile"
    ),
    Case("up-profile-unknown", INV, ("up", "--profiles", "nope"), 2, "unknown profile: nope"),
    Case(
        "check-profile-unknown",
        MOD,
        ("check", "--profiles", "core,nope"),
        2,
        "unknown profile: nope",
    ),
    Case("down-profile-unknown", SCR, ("down", "--profiles", "nope"), 2, "unknown profile: nope"),
    Case("up-no-selection", INV, ("up",), 2, "say which profiles to start"),
    # numbers: checked, named, never invoke's own traceback
    Case(
        "tail-text", INV, ("logs", "--tail", "abc"), 2, "--tail must be a whole number, got 'abc'"
    ),
    Case("tail-negative", INV, ("logs", "--tail", "-1"), 2, "--tail must be between 1 and"),
    Case("tail-zero", MOD, ("logs", "--tail", "0"), 2, "got 0"),
    Case("tail-float", SCR, ("logs", "--tail", "1e3"), 2, "got '1e3'"),
    Case(
        "wait-timeout-text",
        INV,
        ("up", "--profiles", "core", "--wait-timeout", "soon"),
        2,
        "--wait-timeout must be a whole number, got 'soon'",
    ),
    Case(
        "wait-timeout-zero",
        INV,
        ("up", "--profiles", "core", "--wait-timeout", "0"),
        2,
        "--wait-timeout must be between 1",
    ),
    Case(
        "wait-timeout-negative",
        MOD,
        ("up", "--profiles", "core", "--wait-timeout", "-5"),
        2,
        "got -5",
    ),
    # formats and severities
    Case("format-unknown", INV, ("check", "--format", "xml"), 2, "unknown --format 'xml'"),
    Case(
        "format-validate-sarif",
        MOD,
        ("validate", "--format", "sarif"),
        2,
        "unknown --format 'sarif'",
    ),
    Case("format-ps-junit", SCR, ("ps", "--format", "junit"), 2, "unknown --format 'junit'"),
    Case("fail-on-unknown", INV, ("check", "--fail-on", "bogus"), 2, "bogus"),
    # the compose binary and its bounds
    Case(
        "compose-bin-quote",
        SCR,
        ("validate",),
        2,
        "COMPOSE_BIN='\"unbalanced'",
        env={"COMPOSE_BIN": '"unbalanced'},
    ),
    Case(
        "compose-bin-quote-invoke",
        INV,
        ("ps",),
        2,
        "cannot be split into words",
        env={"COMPOSE_BIN": "docker 'compose"},
    ),
    Case(
        "compose-bin-missing",
        MOD,
        ("validate",),
        2,
        "COMPOSE_BIN='/nonexistent/compose'",
        env={"COMPOSE_BIN": "/nonexistent/compose"},
    ),
    Case(
        "compose-timeout-text",
        MOD,
        ("validate",),
        2,
        "STACKCTL_COMPOSE_TIMEOUT='soon'",
        env={"STACKCTL_COMPOSE_TIMEOUT": "soon"},
    ),
    Case(
        "compose-memory-tiny",
        INV,
        ("check",),
        2,
        "STACKCTL_COMPOSE_MEMORY_MB='10'",
        env={"STACKCTL_COMPOSE_MEMORY_MB": "10"},
    ),
    # a stopped engine: one line naming where it was asked
    Case("engine-ps", INV, ("ps",), 2, f"does not answer at {DEAD_ENGINE}"),
    Case("engine-up", INV, ("up", "--profiles", "core"), 2, "does not answer"),
    Case("engine-down", INV, ("down",), 2, "does not answer"),
    Case("engine-logs", INV, ("logs",), 2, "does not answer"),
    Case("engine-loki-preflight", INV, ("loki.preflight",), 2, "does not answer"),
    Case("engine-loki-install", INV, ("loki.install",), 2, "does not answer"),
    Case("engine-ps-module", MOD, ("ps",), 2, "does not answer"),
    Case("engine-up-script", SCR, ("up", "--profiles", "core,data"), 2, "does not answer"),
    # a service file symlinked out of the project: the boundary names it, compose never
    # opens it (tests/test_hostile_boundary.py has every other route)
    Case(
        "service-symlink-outside",
        MOD,
        ("check", "--format", "json", "--fail-on", "medium"),
        2,
        "outside the project; refused, nothing was read",
        setup=service_links_outside,
    ),
    # the command line itself
    Case("unknown-command", MOD, ("frobnicate",), 2, "invalid choice: 'frobnicate'"),
    Case("unknown-flag", SCR, ("check", "--bogus"), 2, "unrecognized arguments: --bogus"),
    # the commands added on top of the edge: gate, profiles, verify, smoke, deploy, undeploy,
    # baseline (its cases below)
    Case("gate-bad-format", MOD, ("gate", "--format", "xml"), 2, "unknown --format 'xml'"),
    Case("profiles-empty-env-file", SCR, ("profiles", "--env-file", ""), 2, "--env-file is empty"),
    Case("verify-empty-profiles", INV, ("verify", "--profiles", ",,"), 2, "names no profile"),
    Case("smoke-no-profiles", MOD, ("smoke",), 2, "say which profiles to smoke-test"),
    Case(
        "deploy-bad-stack-name",
        SCR,
        ("deploy", "--profiles", "core", "--stack", "Bad Name"),
        2,
        "--stack 'Bad Name' is not a valid stack name",
    ),
    Case("undeploy-bad-stack-name", INV, ("undeploy", "--stack", "Bad!"), 2, "'Bad!' is not"),
    # fix: its rule selection, its formats, its project; nothing to fix writes nothing
    Case(
        "fix-select-unknown",
        MOD,
        ("fix", "--select", "NOPE-1"),
        2,
        "--select NOPE-1 is not a rule fix can repair",
    ),
    Case("fix-select-empty", SCR, ("fix", "--select", ""), 2, "--select '' names no rule"),
    Case(
        "fix-ignores-everything",
        MOD,
        ("fix", "--select", "PRIV-001", "--ignore", "priv-001"),
        2,
        "leave no rule to fix",
    ),
    Case("fix-bad-format", INV, ("fix", "--format", "sarif"), 2, "unknown --format 'sarif'"),
    Case("fix-missing-file", SCR, ("fix", "--file", "missing.yml"), 2, "no compose file"),
    Case("fix-nothing-to-fix", INV, ("fix",), 0, "nothing to fix"),
    Case("fix-apply-nothing", MOD, ("fix", "--apply"), 0, "nothing to fix"),
    # the project's rules and baseline: .stackctl.toml, --select/--ignore, `baseline`
    Case("baseline-bad-format", SCR, ("baseline", "--format", "sarif"), 2, "unknown --format"),
    Case(
        "baseline-symlink",
        INV,
        ("baseline",),
        2,
        "baseline .stackctl-baseline.json is a symlink; it is never written through",
        setup=baseline_links_outside,
    ),
    Case(
        "baseline-directory-missing",
        MOD,
        ("baseline",),
        2,
        "the directory of baseline nowhere/accepted.json does not exist",
        setup=env_file('baseline = "nowhere/accepted.json"\n', ".stackctl.toml"),
    ),
    Case(
        "check-baseline-not-json",
        MOD,
        ("check",),
        2,
        ".stackctl-baseline.json is not valid JSON at line 1",
        setup=env_file("{nope", ".stackctl-baseline.json"),
    ),
    Case(
        "check-config-unknown-key",
        SCR,
        ("check",),
        2,
        "unknown key 'rule-sets' (did you mean 'rule-set'?)",
        setup=env_file('rule-sets = "platform"\n', ".stackctl.toml"),
    ),
    Case(
        "gate-config-bad-severity",
        INV,
        ("gate",),
        2,
        "severity.PRIV-001 = 'severe' is not a severity",
        setup=env_file('[severity]\nPRIV-001 = "severe"\n', ".stackctl.toml"),
    ),
    Case(
        "check-select-unknown",
        MOD,
        ("check", "--select", "PRIVV"),
        2,
        "unknown rule or family 'PRIVV' in --select (did you mean 'PRIV'",
    ),
    Case("check-ignore-empty", SCR, ("check", "--ignore", ","), 2, "--ignore ',' names no rule"),
]


# -- running and snapshotting ---------------------------------------------------------


def fingerprint(root: Path) -> dict[str, tuple[object, ...]]:
    """Mode, owner and content hash of everything under ``root``, never following links."""
    found: dict[str, tuple[object, ...]] = {}

    def visit(path: Path) -> None:
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        key = str(path)
        if stat.S_ISLNK(info.st_mode):
            found[key] = ("link", str(path.readlink()), info.st_uid, info.st_gid)
        elif stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[key] = ("file", info.st_mode, info.st_uid, info.st_gid, digest)
        elif stat.S_ISDIR(info.st_mode):
            found[key] = ("dir", info.st_mode, info.st_uid, info.st_gid)
            for child in sorted(path.iterdir()):
                visit(child)
        else:  # FIFOs and devices are recorded, never opened
            found[key] = ("special", info.st_mode, info.st_uid, info.st_gid)

    visit(root)
    return found


def watched(place: Place) -> list[Path]:
    p = place.project
    return [
        p / "secrets",
        p / ".env",
        p / "infra" / "exceptions.yml",
        place.state,
        place.outside,
    ]


def snapshot(place: Place) -> dict[str, tuple[object, ...]]:
    result: dict[str, tuple[object, ...]] = {}
    for path in watched(place):
        result.update(fingerprint(path))
    return result


def prepare(base: Path, case: Case) -> Place:
    root = base / case.id
    project = root / "project"
    shutil.copytree(FIXTURES / "opsstack", project)
    state = root / "state"
    example = (project / ".env.example").read_text()
    example = example.replace("/tmp/opsfixture-state", str(state))
    (project / ".env.example").write_text(example)
    place = Place(project, root / "outside", state)
    place.outside.mkdir()
    case.setup(place)
    return place


def command(case: Case, place: Place) -> list[str]:
    args = [a.format(project=place.project, outside=place.outside) for a in case.args]
    if case.entry == "invoke":
        argv = [sys.executable, "-m", "invoke", "--search-root", str(REPO), *args]
    elif case.entry == "module":
        argv = [sys.executable, "-m", "stackctl", *args]
    else:
        argv = [str(SCRIPT), *args]
    if case.read_only:
        target = case.read_only.format(project=place.project, outside=place.outside)
        path = Path(target) if Path(target).is_absolute() else place.project / target
        mount = f'mount --bind "{path}" "{path}" && mount -o remount,bind,ro "{path}" && exec "$@"'
        argv = ["unshare", "-m", "sh", "-c", mount, "sh", *argv]
    return argv


@dataclass
class Ran:
    place: Place
    before: dict[str, tuple[object, ...]]
    after: dict[str, tuple[object, ...]]
    done: subprocess.CompletedProcess[str]

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr


def run_case(base: Path, case: Case) -> Ran:
    place = prepare(base, case)
    before = snapshot(place)
    env = {k: v for k, v in os.environ.items() if k not in ("STACKCTL_DEBUG", "COMPOSE_BIN")}
    env.update({"DOCKER_HOST": DEAD_ENGINE, **case.env})
    try:
        done = subprocess.run(
            command(case, place),
            cwd=place.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as expired:
        done = subprocess.CompletedProcess(expired.cmd, -9, "", f"HUNG: {expired}")
    return Ran(place, before, snapshot(place), done)


def read_only_mounts_work() -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind / /mnt 2>/dev/null && echo yes"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() == "yes"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Ran]]:
    """Run every case once, four at a time; each test then reads its own result."""
    base = tmp_path_factory.mktemp("bad-inputs")
    can_mount = shutil.which("unshare") is not None and read_only_mounts_work()
    cases = [c for c in CASES if can_mount or not c.read_only]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(
            zip([c.id for c in cases], pool.map(lambda c: run_case(base, c), cases), strict=True)
        )
    log = base / "corpus-output.txt"
    log.write_text("".join(f"== {k}\n{r.output}\n" for k, r in results.items()))
    yield results


def test_corpus_is_large_and_covers_every_entry_point_and_command() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.entry for c in CASES} == {"invoke", "module", "script"}
    # Every registered command, so a new one cannot be added without its bad inputs.
    assert set(all_commands()) <= {c.args[0] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, corpus: dict[str, Ran]) -> None:
    if case.id not in corpus:
        pytest.skip("read-only bind mounts need unshare and mount privileges")
    ran = corpus[case.id]
    output = ran.output
    assert "Traceback" not in output, output
    assert ran.done.returncode == case.code, output
    fragment = case.fragment.format(project=ran.place.project, outside=ran.place.outside)
    assert fragment in output, output
    assert ran.after == ran.before, "the command changed a watched file"


# -- cases that need the engine: the input is only reached once the engine answers ------

ENGINE_CASES = [
    Case(
        "logs-secret-fifo",
        INV,
        ("logs", "--tail", "5"),
        0,
        "",
        setup=combine(env_file(GOOD_ENV), secret_is_fifo),
    ),
    Case(
        "up-secrets-is-file",
        INV,
        ("up", "--profiles", "core"),
        2,
        "{project}/secrets is not a directory",
        setup=combine(env_file(GOOD_ENV), secrets_is_file),
    ),
]


@pytest.mark.engine
@pytest.mark.parametrize("case", ENGINE_CASES, ids=[c.id for c in ENGINE_CASES])
def test_bad_input_on_a_live_engine(case: Case, tmp_path: Path, docker_engine) -> None:
    place = prepare(tmp_path, case)
    env_path = place.project / ".env"
    env_path.write_text(
        env_path.read_text().replace("edgecorpus", f"edgecorpus{os.getpid()}")
        + f"DEFAULT_MOUNT_VOLUME_PATH={place.state}\n"
    )
    before = snapshot(place)
    env = {k: v for k, v in os.environ.items() if k not in ("STACKCTL_DEBUG", "COMPOSE_BIN")}
    done = subprocess.run(
        command(case, place),
        cwd=place.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,  # a masking step that blocked on the FIFO would hang here
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == case.code, output
    assert case.fragment.format(project=place.project, outside=place.outside) in output
    assert snapshot(place) == before
    name = f"edgecorpus{os.getpid()}"
    assert not docker_engine.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={name}"}
    )


def test_masking_never_blocks_on_a_fifo(tmp_path: Path) -> None:
    from stackctl.operating.redact import MASK, Redactor

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    value = tmp_path / "value"
    value.write_text("s3cr3t-value")
    link = tmp_path / "link"
    link.symlink_to(value)
    redact = Redactor.from_files([fifo, tmp_path / "missing", link, tmp_path])
    assert redact("token s3cr3t-value") == f"token {MASK}"
