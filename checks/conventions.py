"""Names both halves agree on: compose's file and label conventions, and the platform's own.

A leaf module: it imports nothing from ``checks`` or ``stackctl``, so the rules,
the project model and the operating code can all share it without a cycle.
"""

from __future__ import annotations

from pathlib import Path

# The files compose picks in a directory when no -f is given, in its order.
DEFAULT_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
ROOT_FILE = "docker-compose.yml"

# Labels compose writes on every container and network it creates.
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
HASH_LABEL = "com.docker.compose.config-hash"

# The platform's conventions: where state lives and who owns it.
STATE_VARIABLE = "DEFAULT_MOUNT_VOLUME_PATH"
STATE_OWNER_LABEL = "org.platform.state-owner"


def default_compose_file(project_dir: Path) -> str:
    """The file compose itself picks in ``project_dir`` when no ``-f`` is given."""
    for name in DEFAULT_COMPOSE_FILES:
        if (project_dir / name).is_file():
            return name
    return ROOT_FILE
