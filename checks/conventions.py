"""Names both halves agree on: compose's file and label conventions, and the platform's own.

A leaf module: it imports nothing from ``checks`` or ``stackctl``, so the rules,
the project model and the operating code can all share it without a cycle.
"""

from __future__ import annotations

from pathlib import Path

# The files compose picks in a directory when no -f is given: the first of these that
# exists, then the first override beside it. Order as compose-go's cli/options.go
# (DefaultFileNames, DefaultOverrideFileNames, used by WithDefaultConfigPath).
DEFAULT_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
ROOT_FILE = "docker-compose.yml"

# Labels compose writes on every container and network it creates.
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
HASH_LABEL = "com.docker.compose.config-hash"

# The platform's conventions: where state lives and who owns it.
STATE_VARIABLE = "DEFAULT_MOUNT_VOLUME_PATH"
STATE_OWNER_LABEL = "org.platform.state-owner"


def _present(project_dir: Path, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if (project_dir / name).is_file()]


def default_compose_files(project_dir: Path) -> tuple[str, ...]:
    """Every file compose loads without ``-f``: the main file, then its override if any.

    Compose takes the override only beside a main file it found, whatever the two
    are called (``compose.yaml`` with ``docker-compose.override.yml`` is a pair).
    """
    main = _present(project_dir, DEFAULT_COMPOSE_FILES)
    if not main:
        return (ROOT_FILE,)
    overrides = _present(project_dir, DEFAULT_OVERRIDE_FILES)
    return (main[0], *overrides[:1])


def ignored_default_files(project_dir: Path) -> tuple[str, ...]:
    """Default names present but not loaded (compose warns and uses the first)."""
    main = _present(project_dir, DEFAULT_COMPOSE_FILES)
    overrides = _present(project_dir, DEFAULT_OVERRIDE_FILES) if main else []
    return (*main[1:], *overrides[1:])
