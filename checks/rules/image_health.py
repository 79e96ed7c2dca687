"""The healthcheck can run inside its image (PRJ-HEALTH, from the image's facts record).

The compose model alone cannot tell that a healthcheck calls a tool the image
lacks, or that ``/bin/sh`` is dash. A service whose image has no record is
skipped here (IMG-001 reports it).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.explain_examples import example_with_facts
from checks.finding import Hit, Severity
from checks.image_facts import ImageFacts
from checks.rule import rule
from checks.rules._shared import healthcheck_test
from checks.service_images import with_facts
from checks.shell import SHELL_BUILTINS, SHELL_NAMES, bash_only_constructs, command_words
from checks.stack import Stack


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
