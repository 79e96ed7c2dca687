"""Rule modules, one per requirement family. Importing this package registers them all."""

from checks.rules import (  # noqa: F401
    compose,
    entrypoint,
    exceptions_file,
    health,
    hygiene,
    images,
    logging,
    network,
    privileges,
    resources,
    runtime,
    secrets,
)
