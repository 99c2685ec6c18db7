"""The client's address and scheme behind a trusted reverse proxy.

KOMMUNEBOT_TRUSTED_PROXIES lists the proxies (addresses or networks, separated by spaces
or commas, e.g. "127.0.0.1 ::1" for nginx on the same machine). Only a request whose peer
is one of them may tell the client's address (X-Forwarded-For) and scheme
(X-Forwarded-Proto); from anybody else these headers are ignored, so a client cannot
choose its own address for the limits or pretend to use HTTPS. Unset: no proxy is
trusted, the peer is the client.

nginx: `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`
       `proxy_set_header X-Forwarded-Proto $scheme;`

Stdlib only (Rasa process, action server, staff portal).
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache

SETTING = "KOMMUNEBOT_TRUSTED_PROXIES"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(value: str) -> tuple[Network, ...]:
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{SETTING}: {item!r} is not an IP address or network "
                             "(e.g. 127.0.0.1, ::1 or 10.0.0.0/8)") from None
    return tuple(networks)


def trusted_networks() -> tuple[Network, ...]:
    return _networks(os.environ.get(SETTING, ""))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(peer: str) -> bool:
    address = _address(peer or "")
    return address is not None and any(address in net for net in trusted_networks())


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The client's address: the peer, or (peer a trusted proxy) the nearest address in
    X-Forwarded-For that is not a trusted proxy itself."""
    if not forwarded_for or not is_trusted(peer):
        return peer or "unknown"
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # garbage: do not let it pick an address
        if not any(address in net for net in trusted_networks()):
            return str(address)
    return str(_address(hops[0])) if hops else peer


def forwarded_https(peer: str, forwarded_proto: str | None) -> bool:
    """The request reached a trusted proxy over HTTPS (X-Forwarded-Proto: https)."""
    if not forwarded_proto or not is_trusted(peer):
        return False
    return forwarded_proto.split(",")[0].strip().lower() == "https"
