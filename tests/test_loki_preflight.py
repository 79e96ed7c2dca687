"""Loki preflight logic. The real engine here lacks the plugin (tested in
test_operations); the installed and disabled branches need a stand-in plugin,
because no Loki plugin can be installed on this machine."""

from __future__ import annotations

import http.server
import threading

import pytest
from docker.errors import NotFound

from stackctl.operating import loki


class FakePlugin:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.attrs = {"Enabled": enabled, "PluginReference": loki.PLUGIN_IMAGE}


class FakePlugins:
    def __init__(self, plugin: FakePlugin | None) -> None:
        self.plugin = plugin

    def get(self, name: str) -> FakePlugin:
        if self.plugin is None or name != loki.PLUGIN_ALIAS:
            raise NotFound("plugin not found")
        return self.plugin


class FakeEngine:
    def __init__(self, plugin: FakePlugin | None) -> None:
        self.plugins = FakePlugins(plugin)


def test_plugin_states() -> None:
    assert not loki.plugin_check(FakeEngine(None), ["a"]).ok
    disabled = loki.plugin_check(FakeEngine(FakePlugin(False)), ["a"])
    assert not disabled.ok and "docker plugin enable loki" in disabled.hint
    assert loki.plugin_check(FakeEngine(FakePlugin(True)), ["a"]).ok
    assert loki.plugin_check(FakeEngine(None), []).ok  # nobody uses the driver


def test_install_command_is_pinned_with_alias() -> None:
    assert loki.INSTALL_COMMAND.endswith("--alias loki --grant-all-permissions")
    assert ":latest" not in loki.INSTALL_COMMAND and ":3." in loki.INSTALL_COMMAND


def test_options_check_flags_hang_prone_options() -> None:
    bad = {
        "services": {
            "a": {
                "logging": {
                    "driver": "loki",
                    "options": {"loki-url": "http://loki:3100/loki/api/v1/push"},
                }
            }
        }
    }
    result = loki.options_check(bad)
    assert not result.ok and "not reachable from the host" in result.detail


def test_reachability_probe_on_loopback() -> None:
    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ready" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/loki/api/v1/push"
        assert loki.reachability_check(url, loki_running=True).ok
    finally:
        server.shutdown()
    assert not loki.reachability_check(url, loki_running=True, timeout=0.5).ok
    assert loki.reachability_check(url, loki_running=False).ok  # not probed before Loki runs


@pytest.mark.slow
def test_install_dry_run_prints_the_command() -> None:
    from cli import run

    done = run(["-m", "invoke", "loki.install", "--dry-run"])
    assert done.returncode == 0 and done.stdout.strip() == loki.INSTALL_COMMAND


def test_the_plugin_is_pinned_per_architecture() -> None:
    assert loki.plugin_image("x86_64") == "grafana/loki-docker-driver:3.5.1-amd64"
    assert loki.plugin_image("aarch64") == "grafana/loki-docker-driver:3.5.1-arm64"
    assert loki.PLUGIN_IMAGE in loki.INSTALL_COMMAND
