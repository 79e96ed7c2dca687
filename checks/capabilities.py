"""Linux capabilities as compose, the engine and /proc name them.

Shared by the static rules (what a service keeps) and the runtime checks (what
PID 1 holds), so both agree on names and on Docker's default set.
"""

from __future__ import annotations

# Linux capability numbers (linux/capability.h): bit N of CapEff is CAPABILITIES[N].
CAPABILITIES = tuple(
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
)
# What the engine grants when a service drops nothing (moby's default set).
DOCKER_DEFAULT_CAPABILITIES = frozenset(
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    ]
)


def normalise_capability(name: object) -> str:
    """``cap_net_raw`` and ``NET_RAW`` are the same capability: ``NET_RAW``."""
    return str(name).strip().upper().removeprefix("CAP_")


def capability_names(mask: int) -> frozenset[str]:
    """The names of the bits set in a capability mask (CapEff of /proc/<pid>/status)."""
    return frozenset(
        CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"CAP_{bit}"
        for bit in range(64)
        if mask >> bit & 1
    )
