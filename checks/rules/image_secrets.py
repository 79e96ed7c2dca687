"""``*_FILE`` variables the image really reads (REQ-SPC-OPT-004, from its facts record).

An app that ignores a ``*_FILE`` variable starts without the secret; only the
image's record (or the project's file-env wrapper) says which ones work. A service
whose image has no record is skipped here (IMG-001 reports it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checks.explain_examples import example_with_facts
from checks.finding import Hit, Severity
from checks.rule import rule
from checks.rules._shared import environment, words_of
from checks.service_images import with_facts
from checks.stack import Stack

FILE_ENV_WRAPPER = "infra/common/file-env.sh"
SECRETS_DIR = "/run/secrets/"


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
