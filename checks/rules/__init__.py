"""Rule modules, one per requirement family. Importing this package registers them all."""

from checks.rules import (  # noqa: F401
    access,
    authentication,
    compose,
    entrypoint,
    exceptions_file,
    health,
    hygiene,
    image_health,
    image_records,
    image_secrets,
    image_users,
    logging,
    mounts,
    network,
    privileges,
    resources,
    runtime,
    secrets,
    wiring,
)
