"""Rule modules, one per requirement family. Importing this package registers them all."""

from checks.rules import (  # noqa: F401
    entrypoint,
    health,
    hygiene,
    logging,
    network,
    privileges,
    resources,
    secrets,
)
