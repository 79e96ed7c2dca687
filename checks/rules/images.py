"""Rules that need to know what is inside an image (records in ``infra/image-facts/``).

The compose model alone cannot tell that a healthcheck calls a tool the image
lacks, that ``/bin/sh`` is dash, or that an app ignores a ``*_FILE`` variable.
These rules look each service's image up by its exact reference and hold the
service to what the record says. A service whose image has no record is
skipped here and reported once by IMG-001.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from checks.capabilities import DOCKER_DEFAULT_CAPABILITIES, normalise_capability
from checks.conventions import STATE_OWNER_LABEL
from checks.finding import Hit, Severity
from checks.image_facts import ImageFacts
from checks.rule import rule
from checks.rules._shared import environment, image_name
from checks.stack import Stack

FILE_ENV_WRAPPER = "infra/common/file-env.sh"
SECRETS_DIR = "/run/secrets/"
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
ROOT_USERS = {"0", "root"}


def words_of(spec: Mapping[str, Any], key: str) -> list[str]:
    """A list-valued key as strings; compose renders lists, hand-written models may not."""
    value = spec.get(key)
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError:
            return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def facts_for(stack: Stack, spec: Mapping[str, Any]) -> ImageFacts | None:
    return stack.facts.images.get(image_name(spec))


def with_facts(stack: Stack) -> Iterator[tuple[str, Mapping[str, Any], ImageFacts]]:
    for name, spec in stack.services.items():
        facts = facts_for(stack, spec)
        if facts is not None:
            yield name, spec, facts


# -- facts records -------------------------------------------------------------


# The facts record every --explain example of this module assumes, unless it says
# otherwise: a busybox-based image that runs as 1000 and honours no *_FILE variable.
EXAMPLE_RECORD: dict[str, Any] = {
    "image": "example/app:1.0",
    "reviewed": dt.date(2026, 11, 26),
    "sources": {"dockerfile": "example/app@v1.0:Dockerfile"},
    "shell": {"kind": "busybox", "source": "dockerfile"},
    "tools": [{"name": "wget", "source": "dockerfile"}],
    "user": {"default": "1000:1000", "runtime": "1000:1000", "source": "dockerfile"},
    "entrypoint": {
        "needs_root": False,
        "switches_with": "none",
        "runs_as_any_user": True,
        "source": "dockerfile",
    },
    "file_capabilities": [],
    "file_env": {"honoured": [], "source": "dockerfile"},
    "writable_paths": [],
}


class _ExampleDumper(yaml.SafeDumper):
    """Quotes strings with a colon (image references, uid:gid), as a person writes them."""


_ExampleDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style='"' if ":" in value else None
    ),
)


def example_with_facts(services: str, *, without: tuple[str, ...] = (), **changes: Any) -> str:
    """An ``--explain`` snippet: the facts record it assumes (``EXAMPLE_RECORD`` with
    ``changes``, less the keys ``without``) as ``x-image-facts``, then ``services``."""
    record = {k: v for k, v in {**EXAMPLE_RECORD, **changes}.items() if k not in without}
    dumped = yaml.dump(record, Dumper=_ExampleDumper, sort_keys=False, default_flow_style=None)
    lines = dumped.splitlines()
    item = "\n".join(("  - " if n == 0 else "    ") + line for n, line in enumerate(lines))
    facts = f"x-image-facts:  # the records infra/image-facts/ holds for this example\n{item}\n"
    return facts + textwrap.dedent(services).strip("\n") + "\n"


@rule(
    "IMG-001",
    requirement="PRJ-IMAGES",
    severity=Severity.HIGH,
    title="every image has a facts record for its exact reference",
    hint="review the image at this tag and add infra/image-facts/<image>.yml (see its README)",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.1"}
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
    ),
)
def facts_record_present(stack: Stack) -> Iterator[Hit]:
    """Each service's image reference has a record in ``infra/image-facts/``.

    Records are looked up by the exact reference, so bumping a tag without
    reviewing the new image is a finding: the message names the tag that was
    reviewed. Applies only to a project that keeps at least one record in
    ``infra/image-facts/``, so projects without facts are not flooded. A record
    that exists but is malformed is reported by IMG-002 instead.
    """
    images = stack.facts.images
    if not images.active:
        return
    for name, spec in stack.services.items():
        image = image_name(spec)
        if not image or images.get(image) is not None or image in images.broken:
            continue
        earlier = images.repository_records(image)
        why = f" (reviewed: {', '.join(earlier)}; the tag changed)" if earlier else ""
        yield Hit(name, f"image {image} has no facts record{why}", subject=image)


@rule(
    "IMG-002",
    requirement="PRJ-IMAGES",
    severity=Severity.HIGH,
    title="facts records are well-formed and cite their sources",
    hint="follow the schema in infra/image-facts/README.md; every fact names a source",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
        without=("sources",),
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
    ),
)
def facts_records_valid(stack: Stack) -> Iterator[Hit]:
    """Every record parses, has the required keys (``image``, ``reviewed``, ``sources``,
    ``shell``, ``tools``, ``user``, ``entrypoint``, ``file_capabilities``,
    ``file_env``, ``writable_paths``), and every fact's ``source`` is a key of
    ``sources:`` or a URL, each source being a URL or ``owner/repo@tag:path``.
    One image is recorded once. A malformed record is ignored by the other image
    rules until it is fixed. Symlinked records are refused, not followed.
    """
    for problem in stack.facts.images.problems:
        # The message is part of the subject: one file can have several problems.
        yield Hit(
            "",
            f"{problem.file}: {problem.message}",
            subject=f"{problem.file}: {problem.message}",
            source=problem.file,
        )


@rule(
    "IMG-003",
    requirement="PRJ-IMAGES",
    severity=Severity.LOW,
    title="no facts record for an image nothing runs",
    hint="delete the record, or pin the service back to the reviewed reference",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.1"}
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
    ),
)
def stale_facts_records(stack: Stack) -> Iterator[Hit]:
    """A record whose image no service uses is left over from a tag bump. Judged only
    on the model with every profile enabled."""
    if not stack.complete:
        return
    used = {image_name(spec) for spec in stack.services.values()}
    for image, facts in sorted(stack.facts.images.records.items()):
        if image not in used:
            yield Hit(
                "", f"{facts.file} records {image}, which no service runs", image, source=facts.file
            )


# -- healthchecks ----------------------------------------------------------------


def healthcheck_test(spec: Mapping[str, Any]) -> list[str]:
    check = spec.get("healthcheck") or {}
    if check.get("disable") is True:
        return []
    test = check.get("test") or []
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(part) for part in test]


def command_words(script: str) -> tuple[list[str], str]:
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
        return [], str(error)
    words: list[str] = []
    at_command, skip_target, after_command = True, False, False
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if skip_target:
            skip_target = False
        elif token in REDIRECTIONS:
            skip_target = True
        elif token.isdigit() and following in REDIRECTIONS:
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
    return words, ""


def bash_only_constructs(script: str) -> list[str]:
    found = []
    for pattern, label in BASH_ONLY:
        match = pattern.search(script)
        if match:
            found.append(label.format(*match.groups()))
    return found


def script_problems(script: str, shell: str, facts: ImageFacts) -> Iterator[tuple[str, str]]:
    """(message, subject) for each reason ``script`` cannot run under ``shell``."""
    if shell != "bash":
        for construct in bash_only_constructs(script):
            yield (
                f"healthcheck uses {construct}, which only bash has, but /bin/sh in "
                f"{facts.image} is {shell} ({facts.cite(facts.shell_source)})",
                construct,
            )
    words, error = command_words(script)
    if error:
        yield f"healthcheck script cannot be parsed: {error}", "parse"
    for word in words:
        if word not in SHELL_BUILTINS and not facts.ships(word):
            yield f"healthcheck calls {word}, which {facts.image} does not ship", word


def healthcheck_problems(test: list[str], facts: ImageFacts) -> Iterator[tuple[str, str]]:
    if not test or test[0].upper() == "NONE":
        return
    kind, argv = test[0].upper(), test[1:]
    if kind == "CMD-SHELL":
        if not facts.has_shell:
            yield f"CMD-SHELL healthcheck, but {facts.image} has no shell", "CMD-SHELL"
            return
        yield from script_problems(" ".join(argv), facts.shell, facts)
        return
    if not argv:
        return
    program = argv[0].rsplit("/", 1)[-1]
    if program in SHELL_NAMES and "-c" in argv[1:-1]:
        wanted = SHELL_NAMES[program]
        shell = wanted or facts.shell
        has_it = facts.has_shell and (not wanted or facts.shell == wanted or facts.ships(argv[0]))
        if not has_it:
            yield f"healthcheck runs {argv[0]}, which {facts.image} does not have", argv[0]
            return
        yield from script_problems(argv[argv.index("-c") + 1], shell, facts)
    elif not facts.ships(argv[0]):
        yield f"healthcheck runs {argv[0]}, which {facts.image} does not ship", argv[0]


@rule(
    "IMG-004",
    requirement="PRJ-HEALTH",
    severity=Severity.HIGH,
    title="the healthcheck can run inside its image",
    hint="probe with a tool the image ships (see docs/images.md), or the app's own health command",
    example=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            healthcheck: {test: [CMD, curl, -fsS, "http://127.0.0.1:8080/health"]}
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            healthcheck: {test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/health"]}
        """,
    ),
)
def healthcheck_runs_in_image(stack: Stack) -> Iterator[Hit]:
    """A healthcheck that cannot run keeps the service unhealthy forever, so
    ``up --wait`` fails and every ``service_healthy`` dependant is never created.

    - ``CMD``: the program is one of the image's recorded ``tools``
      (``sh -c '...'`` / ``bash -c '...'`` are read as scripts for that shell).
    - ``CMD-SHELL``: the image has a shell, and every command word of the script
      (split on ``&&``, ``||``, ``;``, ``|``; ``exec``, ``!``, keywords and
      ``VAR=x`` skipped; builtins such as ``test``, ``[``, ``printf``, ``echo``,
      ``exit`` need no binary) is a recorded tool.
    - Bash-only constructs (``/dev/tcp``, ``/dev/udp``, ``[[``, ``<(``, ``$'..'``,
      ``{a..b}``) only where ``/bin/sh`` is bash. Dash rejects all of them; busybox
      sh rejects ``/dev/tcp`` and ``{a..b}`` and accepts the rest only when built
      with its bash compatibility, so anything but bash gets portable syntax.
    """
    for name, spec, facts in with_facts(stack):
        for message, subject in healthcheck_problems(healthcheck_test(spec), facts):
            yield Hit(name, message, subject=subject)


# -- secrets through files ---------------------------------------------------------


def file_env_wrapper(stack: Stack, spec: Mapping[str, Any]) -> str:
    """The in-container path of the project's file-env wrapper when it is the entrypoint."""
    entrypoint = words_of(spec, "entrypoint")
    wrapper = (
        (stack.facts.directory.rstrip("/") + "/" + FILE_ENV_WRAPPER)
        if stack.facts.directory
        else ""
    )
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping) or volume.get("type") != "bind":
            continue
        source = str(volume.get("source") or "")
        if (source == wrapper or source.endswith("/" + FILE_ENV_WRAPPER)) and volume.get(
            "target"
        ) in entrypoint:
            return str(volume["target"])
    return ""


@rule(
    "IMG-005",
    requirement="REQ-SPC-OPT-004",
    severity=Severity.HIGH,
    title="every *_FILE variable is honoured by the image or the file-env wrapper",
    hint="use a variable the image reads, or run it through infra/common/file-env.sh",
    example=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            environment: {APP_PASS_FILE: /run/secrets/app_password}
        """,
        file_env={"honoured": ["APP_PASSWORD_FILE"], "source": "dockerfile"},
    ),
    fixed=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            environment: {APP_PASSWORD_FILE: /run/secrets/app_password}
        """,
        file_env={"honoured": ["APP_PASSWORD_FILE"], "source": "dockerfile"},
    ),
)
def file_env_honoured(stack: Stack) -> Iterator[Hit]:
    """A ``*_FILE`` variable the image does not read does nothing: the app starts
    without the secret, or silently generates its own (n8n's encryption key, Open
    WebUI's session key). Each ``*_FILE`` key in ``environment`` must be listed in
    the record's ``file_env.honoured`` (shell-style patterns such as ``GF_*__FILE``
    allowed), or the service's entrypoint must be the
    project's wrapper ``infra/common/file-env.sh`` (bind-mounted, read-only), which
    turns every ``*_FILE`` under ``/run/secrets/`` into the plain variable. The
    wrapper is a shell script, so it needs an image with a shell.
    """
    for name, spec, facts in with_facts(stack):
        wrapper = file_env_wrapper(stack, spec)
        if wrapper and not facts.has_shell:
            yield Hit(name, f"runs {wrapper} but {facts.image} has no shell", subject=wrapper)
        for key, value in sorted(environment(spec).items()):
            if not key.endswith("_FILE") or facts.honours(key):
                continue
            if wrapper and (value or "").startswith(SECRETS_DIR):
                continue
            known = " (its record says it is ignored)" if key in facts.file_env.not_honoured else ""
            yield Hit(name, f"{facts.image} does not read {key}{known}", subject=key)


# -- users, state and capabilities ---------------------------------------------------


def split_owner(text: str) -> tuple[str, str]:
    uid, _, gid = text.strip().partition(":")
    return uid, gid


def runtime_user(spec: Mapping[str, Any], facts: ImageFacts) -> tuple[str, str]:
    """(uid:gid or name, where it comes from) of the container's main process."""
    user = str(spec.get("user") or "")
    if user:
        return user, "user:"
    return facts.user.runtime, f"per {facts.file}"


def effective_capabilities(spec: Mapping[str, Any]) -> set[str]:
    dropped = {normalise_capability(c) for c in words_of(spec, "cap_drop")}
    added = {normalise_capability(c) for c in words_of(spec, "cap_add")}
    kept = set() if "ALL" in dropped else set(DOCKER_DEFAULT_CAPABILITIES - dropped)
    return kept | added


def owner_matches(expected: str, label: str) -> bool:
    want_uid, want_gid = split_owner(expected)
    have_uid, have_gid = split_owner(label)
    if want_uid != have_uid:
        return False
    return not want_gid or not have_gid or want_gid == have_gid


@rule(
    "IMG-006",
    requirement="PRJ-IMAGES",
    severity=Severity.HIGH,
    title="state directories are owned by the user the container runs as",
    hint='label the service org.platform.state-owner: "<uid>:<gid>" of its runtime user',
    example=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            labels: {org.platform.state-owner: "0:0"}
            volumes: ["${DEFAULT_MOUNT_VOLUME_PATH}/app:/data"]
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app:
            image: "example/app:1.0"
            labels: {org.platform.state-owner: "1000:1000"}
            volumes: ["${DEFAULT_MOUNT_VOLUME_PATH}/app:/data"]
        """,
    ),
)
def state_owner(stack: Stack) -> Iterator[Hit]:
    """``invoke up`` creates each writable bind under ``${DEFAULT_MOUNT_VOLUME_PATH}``
    (mode 0750) and chowns it to the ``org.platform.state-owner`` label. The label
    must equal the uid:gid the container runs as: ``user:`` when set, else the
    owner the record gives that path (``state:``), else its ``user.runtime``.
    Otherwise a process without ``DAC_OVERRIDE`` (``cap_drop: [ALL]``) cannot
    enter its own data directory. A root-run service needs no label. Named users
    cannot be resolved without the image and are not judged.
    """
    root = stack.facts.state_root
    if not root:
        return
    for name, spec, facts in with_facts(stack):
        labels = spec.get("labels") or {}
        label = str(labels.get(STATE_OWNER_LABEL) or "") if isinstance(labels, Mapping) else ""
        for volume in spec.get("volumes") or []:
            if (
                not isinstance(volume, Mapping)
                or volume.get("type") != "bind"
                or volume.get("read_only")
            ):
                continue
            if not (str(volume.get("source") or "") + "/").startswith(root + "/"):
                continue
            target = str(volume.get("target") or "")
            user, origin = runtime_user(spec, facts)
            if not spec.get("user"):
                user = facts.state_owner(target)
            uid, _ = split_owner(user)
            if not uid.isdigit():
                continue
            if not label:
                if uid != "0":
                    yield Hit(
                        name,
                        f"state {target} has no {STATE_OWNER_LABEL} label; "
                        f"it runs as {user} ({origin})",
                        subject=target,
                    )
            elif not owner_matches(user, label):
                yield Hit(
                    name,
                    f"{STATE_OWNER_LABEL} is {label} but it runs as {user} ({origin}), "
                    f"so it cannot write {target}",
                    subject=target,
                )
            break  # one label per service: judge it once


@rule(
    "IMG-007",
    requirement="SEC-SPC-OPT-001",
    severity=Severity.HIGH,
    title="binaries with file capabilities get those capabilities",
    hint="add the capability to cap_add and register it in infra/exceptions.yml with an ADR",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0", cap_drop: [ALL]}
        """,
        file_capabilities=[
            {
                "path": "/usr/bin/python3",
                "capabilities": ["NET_BIND_SERVICE"],
                "source": "dockerfile",
            }
        ],
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0", cap_drop: [ALL], cap_add: [NET_BIND_SERVICE]}
        """,
        file_capabilities=[
            {
                "path": "/usr/bin/python3",
                "capabilities": ["NET_BIND_SERVICE"],
                "source": "dockerfile",
            }
        ],
    ),
)
def file_capabilities_granted(stack: Stack) -> Iterator[Hit]:
    """A binary carrying file capabilities (``setcap``) cannot be executed when the
    container's bounding set lacks them: the kernel refuses the exec with
    "Operation not permitted" (pgAdmin's python under ``cap_drop: [ALL]``). Each
    capability the record lists under ``file_capabilities`` must therefore be in
    ``cap_add`` (or survive ``cap_drop``). Adding it is itself a PRIV-005 finding
    until it is registered in ``infra/exceptions.yml`` with an ADR, so the two
    rules together ask for exactly the capability the image needs, documented.
    """
    for name, spec, facts in with_facts(stack):
        granted = effective_capabilities(spec)
        for binary in facts.file_capabilities:
            for cap in binary.capabilities:
                if cap not in granted:
                    yield Hit(
                        name,
                        f"{binary.path} in {facts.image} carries file capability {cap}, "
                        "which the container drops: exec fails with Operation not permitted",
                        subject=cap,
                    )


@rule(
    "IMG-008",
    requirement="SEC-SPC-OPT-001",
    severity=Severity.HIGH,
    title="no service runs as root",
    hint="set user: to the image's unprivileged uid:gid, or register the exception with an ADR",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
        user={"default": "0:0", "runtime": "0:0", "source": "dockerfile"},
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0", user: "1000:1000"}
        """,
        user={"default": "0:0", "runtime": "0:0", "source": "dockerfile"},
    ),
)
def runs_as_root(stack: Stack) -> Iterator[Hit]:
    """A service runs as root when ``user:`` is ``root``, ``0``, ``0:0``,
    ``root:root`` (any uid 0), or when it sets no ``user:`` and the record says
    the image's main process ends up as uid 0 (``user.runtime``). An entrypoint
    that switches user (gosu, su-exec, setpriv) without ``SETUID`` and ``SETGID``
    in the effective capability set cannot do it: it fails or stays root, so that
    is reported too. One registry entry can except a service, with an ADR.
    """
    for name, spec in stack.services.items():
        user = str(spec.get("user") or "")
        uid, _ = split_owner(user)
        if uid in ROOT_USERS:
            yield Hit(name, f"runs as root (user: {user})", subject="root")
            continue
        facts = facts_for(stack, spec)
        if user or facts is None:
            continue
        if split_owner(facts.user.runtime)[0] == "0":
            yield Hit(name, f"{facts.image} runs as root and user: is not set", subject="root")
            continue
        missing = {"SETUID", "SETGID"} - effective_capabilities(spec)
        if facts.entrypoint.switches_with not in {"none", "s6"} and missing:
            yield Hit(
                name,
                f"the entrypoint of {facts.image} switches to {facts.user.runtime} with "
                f"{facts.entrypoint.switches_with}, but cap_drop removes "
                f"{' and '.join(sorted(missing))}: "
                f"set user: {facts.user.runtime} instead",
                subject="user-switch",
            )


# -- wiring between services ------------------------------------------------------------

URL_RE = re.compile(r"\b([a-z][a-z0-9+.-]*)://([A-Za-z0-9_.-]+)(?::(\d+))?(/[^\s\"'`,;)]*)?")
DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0"}
LISTEN_RE = re.compile(r"(?:0\.0\.0\.0|\[::\]|::)?:(\d{2,5})")
NON_NETWORK_SCHEMES = {"file", "static", "unix", "data"}
HEALTH_PORT_RE = re.compile(r"(?:127\.0\.0\.1|localhost|0\.0\.0\.0)[:/](?:tcp/)?(\d+)")


def listening_ports(spec: Mapping[str, Any], facts: ImageFacts | None) -> tuple[set[int], bool]:
    """Ports a service is known to listen on, and whether that list can be trusted as
    complete: the record's ports, ``expose``, published targets and listen addresses
    (``:9001``, ``0.0.0.0:4180``) count; a healthcheck's port alone does not, since a
    probe often uses a management port next to the main one."""
    ports = {p.port for p in facts.ports} if facts else set()
    for item in words_of(spec, "expose"):
        text = str(item).split("/")[0]
        if text.isdigit():
            ports.add(int(text))
    for item in spec.get("ports") or []:
        target = item.get("target") if isinstance(item, Mapping) else None
        if isinstance(target, int):
            ports.add(target)
    values = [*environment(spec).values(), *words_of(spec, "command")]
    for value in values:
        match = LISTEN_RE.fullmatch(str(value or ""))
        if match:
            ports.add(int(match.group(1)))
    judgeable = bool(ports)
    for part in healthcheck_test(spec)[1:]:
        ports.update(int(p) for p in HEALTH_PORT_RE.findall(part))
    return ports, judgeable


def service_texts(stack: Stack, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) of everything a service is configured with: environment,
    command, entrypoint and read-only config files mounted from infra/."""
    for key, value in environment(spec).items():
        if value:
            yield key, value
    for key in ("command", "entrypoint"):
        for part in words_of(spec, key):
            yield key, part
    prefix = stack.facts.directory.rstrip("/") + "/" if stack.facts.directory else ""
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping) or volume.get("type") != "bind" or not prefix:
            continue
        source = str(volume.get("source") or "")
        relative = source.removeprefix(prefix) if source.startswith(prefix) else ""
        text = stack.facts.config_files.get(relative)
        if text is not None:
            yield relative, text


@rule(
    "WIRE-001",
    requirement="REQ-SPC-OPT-003",
    severity=Severity.MEDIUM,
    title="URLs between services name a real service and its port",
    hint="use http://<service>:<container port> as the target service listens on",
    example="""
    services:
      api: {image: "example/api:1.0", expose: ["8080"]}
      web:
        image: "example/web:1.0"
        environment: {API_URL: "http://api:9000/v1"}
    """,
    fixed="""
    services:
      api: {image: "example/api:1.0", expose: ["8080"]}
      web:
        image: "example/web:1.0"
        environment: {API_URL: "http://api:8080/v1"}
    """,
)
def service_urls(stack: Stack) -> Iterator[Hit]:
    """A URL in a service's environment, command or mounted config whose host is a
    plain name (no dot) must name a service of the stack (judged on the model with
    every profile enabled, since gateways may point at disabled profiles), and its
    port must be one that service listens on: from its record's ``ports``,
    ``expose``, published targets, listen addresses in its environment or command
    (``:9001``), or its own healthcheck. A healthcheck port alone is not enough to
    judge (probes often use a management port); ``http``/``https`` without a port
    mean 80/443.
    """
    services = stack.services
    for name, spec in services.items():
        for where, text in service_texts(stack, spec):
            for match in URL_RE.finditer(text):
                scheme, host, port_text = match.group(1), match.group(2), match.group(3)
                if (
                    "." in host
                    or host in LOCAL_HOSTS
                    or host == name
                    or host.isdigit()
                    or scheme in NON_NETWORK_SCHEMES
                ):
                    continue
                target = services.get(host)
                if target is None:
                    if stack.complete:
                        yield Hit(
                            name,
                            f"{where} points at {host}, which is not a service",
                            f"{where}:{host}",
                        )
                    continue
                port = int(port_text) if port_text else DEFAULT_PORTS.get(scheme)
                known, judgeable = listening_ports(target, facts_for(stack, target))
                if port is not None and judgeable and port not in known:
                    listens = ", ".join(str(p) for p in sorted(known))
                    yield Hit(
                        name,
                        f"{where} points at {host}:{port}, but {host} listens on {listens}",
                        subject=f"{where}:{host}:{port}",
                    )


ISSUER_ARG_RE = re.compile(r"--oidc-issuer-url[= ](\S+)")
SKIP_ISSUER_KEYS = {"OAUTH2_PROXY_INSECURE_OIDC_SKIP_ISSUER_VERIFICATION"}


def issuers(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key, value in environment(spec).items():
        if "ISSUER" in key.upper() and value and "://" in value:
            yield key, value
    for part in words_of(spec, "command"):
        for match in ISSUER_ARG_RE.finditer(str(part)):
            yield "--oidc-issuer-url", match.group(1)


def advertised_base(spec: Mapping[str, Any]) -> str:
    """What a Keycloak puts in front of ``/realms/...``: KC_HOSTNAME or --hostname."""
    value = environment(spec).get("KC_HOSTNAME") or ""
    command = words_of(spec, "command")
    for index, part in enumerate(command):
        if part.startswith("--hostname="):
            value = part.partition("=")[2]
        elif part == "--hostname" and index + 1 < len(command):
            value = command[index + 1]
    return value.rstrip("/")


def same_origin(issuer: str, advertised: str) -> bool:
    """Compare scheme, host and port when KC_HOSTNAME is a URL, else the host only."""
    have = urlsplit(issuer)
    if "://" not in advertised:
        return (have.hostname or "") == advertised.split(":")[0]
    want = urlsplit(advertised)
    return (have.scheme, have.hostname, have.port) == (want.scheme, want.hostname, want.port)


@rule(
    "WIRE-002",
    requirement="REQ-SPC-OPT-003",
    severity=Severity.HIGH,
    title="an OIDC issuer matches what the provider advertises",
    hint="give the issuer the provider advertises (KC_HOSTNAME + /realms/<realm>)",
    example="""
    services:
      keycloak:
        image: "quay.io/keycloak/keycloak:26.1.4"
        command: [start, "--hostname=https://auth.example.com"]
      oauth2-proxy:
        image: "quay.io/oauth2-proxy/oauth2-proxy:v7.8.1"
        environment:
          OAUTH2_PROXY_OIDC_ISSUER_URL: "http://keycloak:8080/realms/platform"
    """,
    fixed="""
    services:
      keycloak:
        image: "quay.io/keycloak/keycloak:26.1.4"
        command: [start, "--hostname=https://auth.example.com"]
      oauth2-proxy:
        image: "quay.io/oauth2-proxy/oauth2-proxy:v7.8.1"
        environment:
          OAUTH2_PROXY_OIDC_ISSUER_URL: "https://auth.example.com/realms/platform"
    """,
)
def oidc_issuer(stack: Stack) -> Iterator[Hit]:
    """An OIDC client checks that the discovery document's ``issuer`` equals the
    issuer it was given, and exits on a mismatch (oauth2-proxy). A provider with a
    fixed hostname (Keycloak's ``KC_HOSTNAME`` or ``--hostname``) advertises that
    hostname whatever URL it is reached by. So an issuer configured under an
    ``*ISSUER*`` key or ``--oidc-issuer-url`` that points at such a provider, by
    service name or by its public host, must use the advertised origin. Skipped
    when the client explicitly disables issuer verification.
    """
    providers = {name: advertised_base(spec) for name, spec in stack.services.items()}
    providers = {name: base for name, base in providers.items() if base}
    if not providers:
        return
    for name, spec in stack.services.items():
        env = environment(spec)
        if any((env.get(key) or "").lower() == "true" for key in SKIP_ISSUER_KEYS):
            continue
        for key, issuer in issuers(spec):
            host = urlsplit(issuer).hostname or ""
            for provider, base in providers.items():
                public_host = urlsplit(base).hostname if "://" in base else base.split(":")[0]
                if host not in {provider, public_host} or same_origin(issuer, base):
                    continue
                yield Hit(
                    name,
                    f"{key} is {issuer}, but {provider} advertises its issuer under {base}",
                    subject=key,
                )
