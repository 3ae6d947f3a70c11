"""The address policy: refuse private, loopback and link-local receivers.

A webhook URL is typed by a user and the request is sent from Syncline's
network, so a URL pointing inside that network (a metadata service, an admin
port) must be refused unless the connection says it is meant to
(``allow_private_addresses``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

__all__ = ["BLOCKED_NETWORKS", "blocked_network", "resolve", "split_url"]

BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
"""Networks a receiver may not be in unless ``allow_private_addresses`` is true."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def split_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL; ValueError saying what is wrong otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError("the URL is not well-formed (check the port)") from error
    if parts.scheme not in ("http", "https"):
        raise ValueError("the URL must start with https:// (or http:// for a private receiver)")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host name")
    if parts.username or parts.password:
        raise ValueError("the URL must not hold a user name or password; sign with signing_secret")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def blocked_network(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The blocked network ``address`` is in (IPv4-mapped IPv6 addresses count as IPv4), or None."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in BLOCKED_NETWORKS:
        if ip.version == network.version and ip in network:
            return network
    return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal IP resolves to itself).

    Raises ``OSError`` (``socket.gaierror``) when the name does not resolve.
    """
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})
