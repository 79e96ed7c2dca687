"""The runtime checks RUN-001..017: what a running container must show.

``stackctl.runtime`` collects what the engine runs and judges it against these.

Each one names the static rules it mirrors (``mirrors``): the control it proves
at runtime is the one those rules hold the files to, so an exception written for
one of them covers its runtime twin too.
"""

from __future__ import annotations

from checks.finding import Severity
from checks.rule import declare

SEC = "SEC-SPC-OPT-001"
RES = "REQ-SPC-OPT-002"
NET = "REQ-SPC-OPT-003"
SECRETS = "REQ-SPC-OPT-004"
HEALTH = "PRJ-HEALTH"
LOG = "PRJ-LOG"
HYGIENE = "PRJ-HYGIENE"
DRIFT = "PRJ-DRIFT"  # the running stack is the one the files declare

declare(
    "RUN-001",
    kind="runtime",
    requirement=HEALTH,
    severity=Severity.HIGH,
    title="running and healthy",
    hint="invoke logs --service SERVICE; then invoke up",
    doc="The container runs and, when it has a healthcheck, is healthy; "
    'a one-shot job (restart "no") may have exited 0.',
)

declare(
    "RUN-002",
    kind="runtime",
    requirement=SEC,
    severity=Severity.CRITICAL,
    title="capabilities dropped and added as declared",
    hint="re-create it with invoke up (compose applies cap_drop/cap_add)",
    doc="HostConfig.CapDrop holds every declared cap_drop and CapAdd nothing undeclared.",
    mirrors=("PRIV-001", "PRIV-005"),
)

declare(
    "RUN-003",
    kind="runtime",
    requirement=SEC,
    severity=Severity.CRITICAL,
    title="PID 1 holds no undeclared capability",
    hint="re-create it with invoke up; never start stack containers by hand",
    doc="The effective capabilities (CapEff of PID 1 in /proc) are within what the "
    "model allows: cap_add under cap_drop ALL, else Docker's defaults minus cap_drop.",
    mirrors=("PRIV-001", "PRIV-005"),
)

declare(
    "RUN-004",
    kind="runtime",
    requirement=SEC,
    severity=Severity.HIGH,
    title="no-new-privileges in effect",
    hint="re-create it with invoke up (security_opt: no-new-privileges:true)",
    doc="When declared, the engine has no-new-privileges and PID 1 reports NoNewPrivs: 1.",
    mirrors=("PRIV-002",),
)

declare(
    "RUN-005",
    kind="runtime",
    requirement=SEC,
    severity=Severity.CRITICAL,
    title="not privileged unless declared",
    hint="re-create it with invoke up",
    doc="HostConfig.Privileged is false unless the model declares privileged: true.",
    mirrors=("PRIV-004",),
)

declare(
    "RUN-006",
    kind="runtime",
    requirement=SEC,
    severity=Severity.MEDIUM,
    title="init is PID 1",
    hint="re-create it with invoke up (init: true)",
    doc="With init: true the engine runs docker-init as PID 1 to reap zombies and forward signals.",
    mirrors=("PRIV-003",),
)

declare(
    "RUN-007",
    kind="runtime",
    requirement=SEC,
    severity=Severity.HIGH,
    title="read-only root filesystem",
    hint="re-create it with invoke up (read_only: true)",
    doc="With read_only: true the root filesystem is mounted read-only.",
)

declare(
    "RUN-008",
    kind="runtime",
    requirement=RES,
    severity=Severity.HIGH,
    title="memory limit in effect",
    hint="re-create it with invoke up (deploy.resources.limits.memory)",
    doc="The memory limit of the container's cgroup equals the declared limit.",
    mirrors=("RES-001",),
)

declare(
    "RUN-009",
    kind="runtime",
    requirement=RES,
    severity=Severity.HIGH,
    title="CPU limit in effect",
    hint="re-create it with invoke up (deploy.resources.limits.cpus)",
    doc="The CPU quota of the container's cgroup equals the declared cpus.",
    mirrors=("RES-001",),
)

declare(
    "RUN-010",
    kind="runtime",
    requirement=RES,
    severity=Severity.HIGH,
    title="pids limit in effect",
    hint="re-create it with invoke up (deploy.resources.limits.pids)",
    doc="The pids limit of the container's cgroup equals the declared pids.",
    mirrors=("RES-001",),
)

declare(
    "RUN-011",
    kind="runtime",
    requirement=SEC,
    severity=Severity.HIGH,
    title="runs as the declared user",
    hint="re-create it with invoke up (user:)",
    doc="Config.User equals the declared user, and PID 1 runs with its uid.",
)

declare(
    "RUN-012",
    kind="runtime",
    requirement=SECRETS,
    severity=Severity.HIGH,
    title="secrets mounted read-only, 0600, right owner",
    hint="invoke secrets.scaffold --fix, then invoke up",
    doc="Every declared secret is a read-only mount at its target; the host file is "
    "not readable by group or others and belongs to the declared owner. Only "
    "mode and owner are looked at, never the content.",
)

declare(
    "RUN-013",
    kind="runtime",
    requirement=LOG,
    severity=Severity.MEDIUM,
    title="logging driver as declared",
    hint="re-create it with invoke up",
    doc="HostConfig.LogConfig.Type equals the declared logging driver.",
    mirrors=("LOG-001",),
)

declare(
    "RUN-014",
    kind="runtime",
    requirement=NET,
    severity=Severity.HIGH,
    title="declared networks, no static address",
    hint="re-create it with invoke up; never pin ipv4_address",
    doc="The container is attached to exactly the declared networks, by DNS name, "
    "with no static IPv4/IPv6 address.",
    mirrors=("NET-001",),
)

declare(
    "RUN-015",
    kind="runtime",
    requirement=HYGIENE,
    severity=Severity.MEDIUM,
    title="image matches the pinned reference",
    hint="invoke up re-creates containers whose image changed",
    doc="A digest-pinned image runs with that digest; a tag runs the image the tag "
    "names locally now.",
    mirrors=("HYG-001",),
)

declare(
    "RUN-016",
    kind="runtime",
    requirement=DRIFT,
    severity=Severity.MEDIUM,
    title="configuration hash is current",
    hint="invoke up (compose re-creates containers whose configuration changed)",
    doc="The container's config-hash label equals compose's hash of the rendered service.",
)

declare(
    "RUN-017",
    kind="runtime",
    requirement=DRIFT,
    severity=Severity.HIGH,
    title="created by compose for a declared service",
    hint="remove the container, then invoke up",
    doc="Every container of the project carries compose's labels for a service the "
    "stack declares, and nothing else is attached to the project's networks.",
)
