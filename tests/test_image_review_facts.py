"""Facts from the image review that this machine can show for real.

- A binary with a file capability cannot be executed under cap_drop ALL, and can
  once the capability is back in the bounding set, while no-new-privileges keeps
  it out of the process (pgAdmin, ADR 0016).
- Alloy's readiness probe works under bash and fails under dash, which is what
  /bin/sh is in its Ubuntu image (so it must not run as CMD-SHELL).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
ALLOY_COMPOSE = REPO / "infra" / "30-obs" / "alloy" / "docker-compose.yml"
ALLOY_PORT_IN_PROBE = "127.0.0.1/12345"


# -- file capabilities under cap_drop ALL -------------------------------------------


@pytest.fixture
def file_capability_image(docker_engine, tmp_path: Path) -> Iterator[str]:
    """busybox as /bin/sh plus a copy at /capbin/busybox marked cap_net_bind_service=+eip."""
    setcap, tar, busybox = shutil.which("setcap"), shutil.which("tar"), Path("/bin/busybox")
    if os.geteuid() != 0 or setcap is None or tar is None or not busybox.is_file():
        pytest.skip("needs root, setcap, GNU tar and Debian's static /bin/busybox")
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "capbin").mkdir()
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    shutil.copy2(busybox, rootfs / "capbin" / "busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    subprocess.run(
        [setcap, "cap_net_bind_service=+eip", str(rootfs / "capbin" / "busybox")], check=True
    )
    archive = tmp_path / "rootfs.tar"
    # docker import keeps the security.capability xattr from the tar's PAX headers,
    # exactly as a registry layer carries it.
    xattrs = ["--xattrs", "--xattrs-include=security.capability"]
    subprocess.run([tar, *xattrs, "-C", str(rootfs), "-cf", str(archive), "."], check=True)
    repository = f"stackctl-test/img-c-filecap-{uuid.uuid4().hex[:8]}"
    docker_engine.api.import_image_from_file(str(archive), repository=repository, tag="1")
    image = f"{repository}:1"
    try:
        yield image
    finally:
        docker_engine.images.remove(image, force=True)


def run_hardened(engine, image: str, script: str, cap_add: list[str]) -> str:
    """Run `script` as pgAdmin's uid under the stack's baseline and return its output."""
    output = engine.containers.run(
        image,
        ["/bin/sh", "-c", script],
        user="5050:0",
        cap_drop=["ALL"],
        cap_add=cap_add,
        security_opt=["no-new-privileges:true"],
        network_mode="none",
        remove=True,
        stderr=True,
    )
    return output.decode()


@pytest.mark.engine
def test_file_capability_binary_cannot_exec_under_cap_drop_all(
    docker_engine, file_capability_image
):
    output = run_hardened(
        docker_engine, file_capability_image, "/capbin/busybox true; echo rc=$?", cap_add=[]
    )
    assert "Operation not permitted" in output
    assert "rc=126" in output


@pytest.mark.engine
def test_file_capability_binary_runs_with_the_capability_in_the_bounding_set(
    docker_engine, file_capability_image
):
    output = run_hardened(
        docker_engine,
        file_capability_image,
        "/capbin/busybox true; echo rc=$?;"
        " /capbin/busybox grep -E '^Cap(Eff|Bnd)' /proc/self/status",
        cap_add=["NET_BIND_SERVICE"],
    )
    assert "rc=0" in output
    status = dict(line.split(":\t") for line in output.splitlines() if line.startswith("Cap"))
    # NET_BIND_SERVICE is capability 10: in the bounding set, never effective.
    assert int(status["CapBnd"], 16) == 1 << 10
    assert int(status["CapEff"], 16) == 0


# -- Alloy's readiness probe: bash yes, dash no ------------------------------------


class ReadyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/-/ready" else 404)
        self.end_headers()
        self.wfile.write(b"ready\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def ready_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), ReadyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def alloy_probe() -> list[str]:
    """The probe as the container gets it: compose turns the ``$$`` escape into ``$``."""
    service = yaml.safe_load(ALLOY_COMPOSE.read_text())["services"]["alloy"]
    return [str(part).replace("$$", "$") for part in service["healthcheck"]["test"]]


def test_alloy_probe_calls_bash_in_exec_form():
    probe = alloy_probe()
    assert probe[:3] == ["CMD", "bash", "-c"]
    assert ALLOY_PORT_IN_PROBE in probe[3]


@pytest.mark.parametrize("shell, healthy", [("bash", True), ("dash", False)])
def test_alloy_probe_needs_bash(ready_server: int, shell: str, healthy: bool):
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed here")
    script = alloy_probe()[3].replace(ALLOY_PORT_IN_PROBE, f"127.0.0.1/{ready_server}")
    done = subprocess.run([binary, "-c", script], capture_output=True, text=True, timeout=10)
    assert (done.returncode == 0) is healthy, done.stderr
    if not healthy:
        assert "/dev/tcp" in done.stderr
