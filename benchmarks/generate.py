"""Synthetic stacks shaped like ours, for benchmarks: any number of services, seven profiles.

    python benchmarks/generate.py 200 /tmp/stack-200
    python benchmarks/generate.py 400 /tmp/one-400 --one-file

Each stack has the platform stack's shape: a root ``docker-compose.yml`` that
only includes ``infra/<NN>-<profile>/<service>/docker-compose.yml`` (one file
per service, so 200 services means 200 included files, past compose-lint's
limit of 64), hardening templates applied with ``extends`` from
``infra/common-optimizations.yml``, file secrets declared at the root, an
``.env.example`` and cross-profile ``depends_on`` (workflow and tooling need
data), so every profile selection exercises the same code paths ours does.

With ``--one-file`` every service is written in the root ``docker-compose.yml``
itself (the shape of a stack that grew in one file): same services, templates,
secrets and profiles, no includes. Every seventh service also carries a
Swarm-only ``deploy.labels``, so compose warns and each warning is located in
that one big file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

PROFILES = ("core", "data", "obs", "ai", "messaging", "workflow", "tooling")
NEEDS_DATA = {"workflow", "tooling"}

TEMPLATES: dict[str, Any] = {
    "services": {
        "logging-local": {
            "logging": {"driver": "local", "options": {"max-size": "10m", "max-file": "3"}}
        },
        "baseline": {
            "extends": {"service": "logging-local"},
            "init": True,
            "security_opt": ["no-new-privileges:true"],
            "cap_drop": ["ALL"],
            "restart": "unless-stopped",
            "networks": ["platform"],
            "labels": {"org.platform.baseline": "hardened"},
        },
        "small": {
            "extends": "baseline",
            "deploy": {
                "resources": {
                    "limits": {"memory": "256M", "cpus": "0.50", "pids": 128},
                    "reservations": {"memory": "64M"},
                }
            },
        },
        "small-ro": {
            "extends": "small",
            "read_only": True,
            "tmpfs": ["/tmp:size=64m,mode=1777", "/run:size=16m,mode=0755"],
        },
    }
}


def service_names(count: int) -> list[tuple[str, str]]:
    """(profile, service) pairs spread round-robin over the seven profiles."""
    return [(PROFILES[i % len(PROFILES)], f"svc{i:03d}") for i in range(count)]


def service_file(
    profile: str,
    name: str,
    data_services: list[str],
    index: int,
    templates: str = "../../common-optimizations.yml",
) -> dict[str, Any]:
    secret = f"{name}_password"
    spec: dict[str, Any] = {
        "extends": {"file": templates, "service": "small-ro"},
        "image": f"registry.example/{profile}/{name}:1.0.{index}",
        "profiles": [profile],
        "user": "1000:1000",
        "labels": {"org.platform.tier": profile, "org.platform.profile": profile},
        "environment": {
            "APP_PASSWORD_FILE": f"/run/secrets/{secret}",
            "APP_DOMAIN": "${PLATFORM_DOMAIN:-localhost}",
        },
        "secrets": [secret],
        "volumes": [f"${{DEFAULT_MOUNT_VOLUME_PATH:?set it}}/{name}:/data"],
        "healthcheck": {
            "test": ["CMD", "/bin/true"],
            "interval": "10s",
            "timeout": "5s",
            "retries": 3,
        },
    }
    if profile in NEEDS_DATA and data_services:
        dep = data_services[index % len(data_services)]
        spec["depends_on"] = {dep: {"condition": "service_healthy"}}
    return {"services": {name: spec}}


def generate(count: int, target: Path, *, one_file: bool = False) -> Path:
    """Write a stack of ``count`` services under ``target`` and return the directory."""
    pairs = service_names(count)
    data_services = [name for profile, name in pairs if profile == "data"]
    infra = target / "infra"
    infra.mkdir(parents=True, exist_ok=True)
    (infra / "common-optimizations.yml").write_text(yaml.safe_dump(TEMPLATES, sort_keys=False))
    services: dict[str, Any] = {}
    includes = []
    for index, (profile, name) in enumerate(pairs):
        if one_file:
            content = service_file(
                profile, name, data_services, index, "infra/common-optimizations.yml"
            )
            if index % 7 == 0:  # a Swarm-only key: compose warns, the check locates it
                content["services"][name]["deploy"] = {"labels": {"org.platform.swarm": "yes"}}
            services.update(content["services"])
            continue
        tier = f"{(PROFILES.index(profile) + 1) * 10}-{profile}"
        relative = f"infra/{tier}/{name}/docker-compose.yml"
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        content = service_file(profile, name, data_services, index)
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        includes.append(relative)
    root: dict[str, Any] = {
        "name": "${COMPOSE_PROJECT_NAME:-bench}",
        **({"services": services} if one_file else {"include": includes}),
        "networks": {"platform": {"name": "${COMPOSE_PROJECT_NAME:-bench}-net"}},
        "secrets": {f"{n}_password": {"file": f"./secrets/{n}_password"} for _, n in pairs},
    }
    (target / "docker-compose.yml").write_text(yaml.safe_dump(root, sort_keys=False))
    (target / ".env.example").write_text(
        "# where services keep state\nDEFAULT_MOUNT_VOLUME_PATH=/srv/bench\n"
        "# public domain\nPLATFORM_DOMAIN=localhost\n"
    )
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", type=int)
    parser.add_argument("target", type=Path)
    parser.add_argument("--one-file", action="store_true", help="every service in the root file")
    args = parser.parse_args()
    generate(args.services, args.target, one_file=args.one_file)
    print(args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
