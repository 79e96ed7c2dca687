"""Host addresses as compose writes them in ``ports:``: which ones only this host reaches.

Shared by the static rule (HYG-002) and the Swarm translation, so both agree
that a port published on 127.0.0.2 is as private as one on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress

LOCALHOST = "localhost"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ``::1`` (bracketed or IPv4-mapped too) and ``localhost``."""
    text = host.strip().removeprefix("[").removesuffix("]")
    if text.lower() == LOCALHOST:
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
