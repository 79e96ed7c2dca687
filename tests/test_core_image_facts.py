"""Facts from infra/image-facts/ about the core images, shown where this machine can show them.

The pinned images cannot be pulled here, so each test runs the stack's own
command (taken from the rendered model or the repository) under the shell or
restrictions the facts record for that image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import REPO
from stackctl.project.compose import Compose
from stackctl.project.render import render

FILE_ENV = REPO / "infra" / "common" / "file-env.sh"


class _Health(BaseHTTPRequestHandler):
    """Answers like Keycloak's management port: 200 when ready, 503 otherwise."""

    ready = True

    def do_GET(self) -> None:
        up = self.path == "/health/ready" and self.ready
        self.send_response(200 if up else 503)
        self.end_headers()
        self.wfile.write(b'{"status": "UP"}' if up else b'{"status": "DOWN"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def keycloak_probe(stack_compose: Compose) -> str:
    test = render(stack_compose, ["core"]).services["keycloak"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    # compose turns $$ into $ when it creates the container
    return str(test[1]).replace("$$", "$")


def _probe_on(probe: str, port: int) -> str:
    assert "/dev/tcp/127.0.0.1/9000" in probe
    return probe.replace("/dev/tcp/127.0.0.1/9000", f"/dev/tcp/127.0.0.1/{port}")


def test_keycloak_probe_passes_only_when_ready_under_bash(
    keycloak_probe: str, health_server: ThreadingHTTPServer
) -> None:
    bash = shutil.which("bash")
    assert bash
    probe = _probe_on(keycloak_probe, health_server.server_address[1])
    # PATH without grep or curl: the image is only known to ship bash and coreutils.
    env = {"PATH": "/nonexistent"}
    _Health.ready = True
    assert subprocess.run([bash, "-c", probe], env=env, timeout=10).returncode == 0
    _Health.ready = False
    try:
        assert subprocess.run([bash, "-c", probe], env=env, timeout=10).returncode != 0
    finally:
        _Health.ready = True


def test_keycloak_probe_cannot_run_under_dash(
    keycloak_probe: str, health_server: ThreadingHTTPServer
) -> None:
    """The reason the probe is only valid in an image whose /bin/sh is bash."""
    if not Path("/bin/dash").exists():
        pytest.skip("/bin/dash is not installed")
    probe = _probe_on(keycloak_probe, health_server.server_address[1])
    done = subprocess.run(["/bin/dash", "-c", probe], capture_output=True, text=True, timeout=10)
    assert done.returncode != 0
    assert "/dev/tcp" in done.stderr


def test_file_env_wrapper_needs_only_env_cut_and_cat(tmp_path: Path) -> None:
    """Keycloak's image is not known to have sed or grep; the wrapper must not need them."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not Path("/bin/dash").exists():
        pytest.skip("needs root, unshare and /bin/dash to mount a private /run/secrets")
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("env", "cut", "cat"):
        found = shutil.which(name)
        assert found
        (tools / name).symlink_to(found)
    secret = tmp_path / "secret"
    secret.write_text("s3cret-value")
    # A private mount namespace: the tmpfs over /run never reaches the host.
    script = (
        "mount -t tmpfs -o size=1m none /run && mkdir /run/secrets && "
        f'cp "{secret}" /run/secrets/db && '
        f'exec env -i PATH="{tools}" DB_PASSWORD_FILE=/run/secrets/db OTHER_FILE=/etc/hostname '
        f'/bin/dash "{FILE_ENV}" /bin/dash -c '
        """'echo "$DB_PASSWORD|${DB_PASSWORD_FILE-unset}|${OTHER-unset}|$OTHER_FILE"'"""
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"cannot unshare here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    # converted and unset; a path outside /run/secrets is left alone
    assert done.stdout.strip() == "s3cret-value|unset|unset|/etc/hostname"


@pytest.mark.engine
def test_non_root_binds_port_80_under_cap_drop_all(docker_engine, test_image: str) -> None:
    """Why traefik runs as 65534 without NET_BIND_SERVICE: low ports are unprivileged here."""
    output = docker_engine.containers.run(
        test_image,
        [
            "sh",
            "-c",
            "httpd -f -p 80 -h /www & for try in 1 2 3 4 5 6 7 8 9 10; do"
            " wget -q -O- http://127.0.0.1:80/ && exit 0; sleep 0.2; done; exit 1",
        ],
        name="img-a-lowport-test",
        user="65534:65534",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        network_mode="none",
        remove=True,
    )
    assert output.decode().strip() == "ok"
