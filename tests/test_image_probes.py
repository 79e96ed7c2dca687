"""Facts from infra/image-facts/ that this machine can show, run against the stack's own config.

No pinned image can be pulled here, so each test takes the exact probe or
entrypoint from the rendered stack and runs it where the same shell or the
same kernel rules apply: the host's dash and bash, and the busybox test image
under the stack's hardening (uid, cap_drop ALL, no-new-privileges).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.project.render import Model, render


@pytest.fixture(scope="module")
def full(stack_compose) -> Model:
    return render(stack_compose, ["*"])


@pytest.fixture
def ready_endpoint() -> Iterator[int]:
    """A loopback TCP port that answers any request with an HTTP 200 status line."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)

    def answer() -> None:
        try:
            while True:
                connection, _ = server.accept()
                with connection:
                    connection.recv(1024)
                    connection.sendall(b"HTTP/1.0 200 OK\r\n\r\nready\n")
        except OSError:
            return

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(timeout=5)


def _qdrant_probe(full: Model, port: int) -> list[str]:
    """The probe as the container gets it: ``config`` keeps the ``$$`` escape in its
    output, and compose turns it into ``$`` when it creates the container."""
    test = list(full.services["qdrant"]["healthcheck"]["test"])
    return [part.replace("/6333", f"/{port}").replace("$$", "$") for part in test]


def test_qdrant_probe_is_exec_form_bash(full: Model) -> None:
    test = full.services["qdrant"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_qdrant_probe_needs_bash_not_dash(full: Model, ready_endpoint: int, shell: str) -> None:
    """The image's /bin/sh is dash: the same script passes under bash and fails under dash."""
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed on this host")
    script = _qdrant_probe(full, ready_endpoint)[3]
    done = subprocess.run([binary, "-c", script], capture_output=True, text=True, timeout=20)
    if shell == "bash":
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0
        assert "/dev/tcp" in done.stderr


WRAPPED = ("n8n", "n8n-worker", "open-webui")


@pytest.mark.parametrize("service", WRAPPED)
def test_ignored_file_variables_go_through_file_env(full: Model, service: str) -> None:
    spec = full.services[service]
    assert spec["entrypoint"][:2] == ["/bin/sh", "/opt/platform/file-env.sh"]
    mounts = {v["target"]: v for v in spec["volumes"]}
    wrapper = mounts["/opt/platform/file-env.sh"]
    assert wrapper["read_only"] is True
    assert Path(wrapper["source"]).is_file()


@pytest.mark.engine
@pytest.mark.parametrize("service", ["n8n-worker", "open-webui"])
def test_file_env_exports_the_key_under_the_services_hardening(
    full: Model, docker_engine, test_image: str, tmp_path: Path, service: str
) -> None:
    """The wrapper runs as the service's uid with no capabilities and reads its 0600 secret."""
    if os.geteuid() != 0:
        pytest.skip("creating a secret owned by another uid needs root")
    spec = full.services[service]
    variable, secret_path = next(
        (name, value)
        for name, value in spec["environment"].items()
        if name in {"N8N_ENCRYPTION_KEY_FILE", "WEBUI_SECRET_KEY_FILE"}
    )
    user = spec.get("user") or "0:0"
    uid, gid = (int(part) for part in user.split(":"))
    secret = tmp_path / "secret"
    secret.write_text("k3y-value")
    secret.chmod(0o600)
    os.chown(secret, uid, gid)
    wrapper = next(v["source"] for v in spec["volumes"] if v["target"].endswith("file-env.sh"))
    plain = variable.removesuffix("_FILE")
    report = f'echo "${{#{plain}}} ${{{variable}:-unset}} $(id -u)"'
    # The wrapper as the service runs it; the report stands in for the image's own program.
    output = docker_engine.containers.run(
        test_image,
        entrypoint=[*spec["entrypoint"][:2], "/bin/sh", "-c", report],
        environment={variable: secret_path},
        user=user,
        cap_drop=spec["cap_drop"],
        security_opt=spec["security_opt"],
        init=True,
        network_mode="none",
        volumes={
            str(secret): {"bind": secret_path, "mode": "ro"},
            wrapper: {"bind": "/opt/platform/file-env.sh", "mode": "ro"},
        },
        remove=True,
        name=f"img-b-file-env-{service}",
    )
    assert output.decode().split() == [str(len("k3y-value")), "unset", str(uid)]
