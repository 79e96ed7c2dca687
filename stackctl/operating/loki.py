"""The Loki logging-driver preflight: plugin, reachability and hang-safe options.

Services using the ``loki`` driver cannot even be created when the plugin is
missing, so this runs before ``up`` starts anything.
"""

from __future__ import annotations

import platform
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from checks.catalogue import model_rules
from checks.evaluator import evaluate
from checks.stack import Stack
from stackctl.operating.docker_api import plugin_state
from stackctl.operating.steps import StepResult
from stackctl.reporting import short_list

PLUGIN_ALIAS = "loki"
PLUGIN_VERSION = "3.5.1"  # same line as the Loki server image
# Loki's release workflow at v3.5.1 publishes the plugin once per architecture
# (3.5.1-amd64, 3.5.1-arm64); a plugin has no multi-arch manifest to pick from.
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def plugin_image(machine: str | None = None) -> str:
    """The pinned plugin reference for this host's architecture (``uname -m``)."""
    arch = _ARCHITECTURES.get((machine or platform.machine()).lower(), "amd64")
    return f"grafana/loki-docker-driver:{PLUGIN_VERSION}-{arch}"


PLUGIN_IMAGE = plugin_image()
INSTALL_COMMAND = (
    f"docker plugin install {PLUGIN_IMAGE} --alias {PLUGIN_ALIAS} --grant-all-permissions"
)
# The policy rules preflight shares with `check`: loki-url reachable, bounded retries.
OPTION_RULES = ("LOG-002", "LOG-004")
FALLBACK_HINT = "or set LOG_DRIVER=local in your .env to log with the local driver instead"


def loki_services(model: Mapping[str, Any]) -> list[str]:
    services = model.get("services") or {}
    return sorted(
        n for n, s in services.items() if (s.get("logging") or {}).get("driver") == "loki"
    )


def plugin_check(engine: Any, users: list[str]) -> StepResult:
    if not users:
        return StepResult("loki plugin", True, "no selected service uses the loki driver")
    state = plugin_state(engine, PLUGIN_ALIAS)
    who = f"{len(users)} service(s) log through it ({short_list(users)})"
    if not state.installed:
        return StepResult(
            "loki plugin",
            False,
            f"the Loki logging driver plugin is not installed; {who}",
            f"invoke loki.install  (runs: {INSTALL_COMMAND}) {FALLBACK_HINT}",
        )
    if not state.enabled:
        return StepResult(
            "loki plugin",
            False,
            f"the Loki logging driver plugin is installed but disabled; {who}",
            f"docker plugin enable {PLUGIN_ALIAS}  {FALLBACK_HINT}",
        )
    return StepResult(
        "loki plugin", True, f"installed and enabled ({state.reference or PLUGIN_ALIAS})"
    )


def options_check(model: Mapping[str, Any]) -> StepResult:
    """Runs the policy rules through the rule engine, so preflight and `check` never disagree."""
    rules = model_rules()
    evaluation = evaluate([Stack(model=model)], rules=[rules[rule_id] for rule_id in OPTION_RULES])
    problems = evaluation.open_findings
    if not problems:
        return StepResult("loki options", True, "loopback loki-url, non-blocking, bounded retries")
    first = problems[0]
    return StepResult(
        "loki options",
        False,
        f"{len(problems)} problem(s), first: {first.service}: {first.message}",
        "use the logging template of infra/common-optimizations.yml",
    )


def loki_url(model: Mapping[str, Any]) -> str | None:
    for spec in (model.get("services") or {}).values():
        logging = spec.get("logging") or {}
        if logging.get("driver") == "loki":
            return str((logging.get("options") or {}).get("loki-url") or "") or None
    return None


def reachability_check(url: str | None, loki_running: bool, timeout: float = 2.0) -> StepResult:
    """Only meaningful once Loki should be up; asks its /ready on the host's loopback."""
    if not url:
        return StepResult("loki reachable", True, "no loki-url configured")
    if not loki_running:
        return StepResult("loki reachable", True, "Loki is not running yet; not probed")
    parts = urlsplit(url)
    ready = f"{parts.scheme}://{parts.netloc}/ready"
    try:
        with urllib.request.urlopen(ready, timeout=timeout) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as error:
        return StepResult(
            "loki reachable",
            False,
            f"{ready} does not answer ({error})",
            "check that Loki publishes its port on 127.0.0.1",
        )
    return StepResult("loki reachable", ok, f"{ready} answered", "")
