"""Rule modules, one per requirement family. Importing this package registers them all."""

from checks.rules import (  # noqa: F401
    access,
    entrypoint,
    health,
    hygiene,
    images,
    logging,
    network,
    privileges,
    resources,
    secrets,
)
