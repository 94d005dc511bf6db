"""Choosing free 127.0.0.1 ports and recognising "address already in use" in a log."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping

from streams.infra.errors import PortInUse

__all__ = ["HOST", "check_free", "mentions_address_in_use", "pick_ports", "port_is_free"]

HOST = "127.0.0.1"

_IN_USE_MARKERS = (
    "address already in use",
    "bindexception",
    "could not bind ipv4 address",
    "could not create any tcp/ip sockets",
    "seems to be in use by another process",  # Quarkus (Apicurio)
)


def pick_ports(names: Iterable[str], fixed: Mapping[str, int] | None = None) -> dict[str, int]:
    """A port for each name: `fixed[name]` if given, else a free one chosen by the kernel.

    All probe sockets stay bound until every port is chosen, so two names never get the same
    port from this call.
    """
    fixed = fixed or {}
    chosen: dict[str, int] = {}
    probes: list[socket.socket] = []
    try:
        for name in names:
            if name in fixed:
                chosen[name] = fixed[name]
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(sock)
            sock.bind((HOST, 0))
            chosen[name] = sock.getsockname()[1]
    finally:
        for sock in probes:
            sock.close()
    return chosen


def port_is_free(port: int) -> bool:
    """True if a server could bind 127.0.0.1:`port` now (SO_REUSEADDR, as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def check_free(ports: Mapping[str, int]) -> None:
    """Raise `PortInUse` naming the first of `ports` (name -> port) that is already taken."""
    for name, port in ports.items():
        if not port_is_free(port):
            raise PortInUse(
                f"port {HOST}:{port} chosen for {name} is already in use by another process; "
                "stop that process or choose another port"
            )


def mentions_address_in_use(log_text: str) -> bool:
    """True if a service's log says it could not bind its port."""
    lowered = log_text.lower()
    return any(marker in lowered for marker in _IN_USE_MARKERS)
