"""What every answer carries, and which Host a request may name.

* The Host header must name this service (``CASTLEGATE_ALLOWED_HOSTS``; by default the
  loopback names when it listens on loopback): a web page cannot reach a local castlegate
  through a DNS name it rebinds to 127.0.0.1. Anything else is 400 problem JSON.
* Every answer says ``nosniff``, ``no-store`` (answers hold clients' data), no framing and
  no referrer; the JSON API allows no content to load (``default-src 'none'``).
"""

from __future__ import annotations

import ipaddress
import json

from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["guard_hosts", "default_hosts", "SECURITY_HEADERS"]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"]


def default_hosts(bind: str) -> list[str]:
    """The loopback names when the service listens on loopback; else every host (then set
    CASTLEGATE_ALLOWED_HOSTS to the names clients use)."""
    if bind in ("localhost", ""):
        return list(_LOOPBACK_NAMES)
    try:
        return list(_LOOPBACK_NAMES) if ipaddress.ip_address(bind).is_loopback else ["*"]
    except ValueError:
        return [bind, *_LOOPBACK_NAMES]


def _host_name(header: str) -> str:
    """The host of a Host header, without its port; IPv6 without brackets."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _allowed(name: str, hosts: list[str]) -> bool:
    return any(h == "*" or h == name or (h.startswith("*.") and name.endswith(h[1:])) for h in hosts)


def guard_hosts(hosts: list[str]):
    """ASGI middleware factory: the Host check and the security headers."""
    hosts = [h.lower() for h in hosts]

    def middleware(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not _allowed(_host_name(raw), hosts):
                await _refuse(send, raw)
                return

            async def with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    present = {k.lower() for k, _ in headers}
                    headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                    if b"cache-control" not in present:
                        headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, with_headers)

        return call

    return middleware


async def _refuse(send: Send, host: str) -> None:
    body = json.dumps({"type": "https://castlegate.dev/problems/bad-host", "title": "Bad request", "status": 400,
                       "detail": f"Host {host[:100]!r} is not this service (CASTLEGATE_ALLOWED_HOSTS)"}).encode()
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
