"""Rule modules, one per requirement family. Importing this package registers them all."""

from checks.rules import (  # noqa: F401
    access,
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
    network,
    privileges,
    resources,
    runtime,
    secrets,
    wiring,
)
