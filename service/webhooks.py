"""Sending one webhook attempt: sign, POST, time it, and say what happened.

Retries are not decided here (the scheduler does, from the recorded attempts); this only
makes one honest attempt and reports it. At-least-once: a receiver may see a delivery
again (same ``X-Castlegate-Delivery``) if castlegate stopped between sending and recording.

The timeout bounds the whole attempt (connect, send, the answer's status line), not each
step: httpx's own timeouts are per step, so a receiver trickling bytes could hold a
delivery thread indefinitely. The answer's body is never read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from graph.audits.model import Delivery, DeliveryAttempt
from graph.audits.signing import HEADER, signature_header
from service import __version__

__all__ = ["send", "url_problem", "private_address"]

_USER_AGENT = f"castlegate-webhooks/{__version__}"


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook target, or None. Checked when a webhook is set (so
    a bad URL is a 422 naming ``webhook.url``, not a delivery that can never be tried)."""
    try:
        u = httpx.URL(url)
        host = u.host
        if host and not _is_ip(host):
            host.encode("idna")  # what httpx does when it connects: fail now, not then
        urlsplit(url).port  # raises on a bad port
    except Exception as e:  # httpx.InvalidURL, UnicodeError, ValueError
        return f"not a valid URL: {e}"
    if u.scheme not in ("http", "https") or not host:
        return "an absolute http(s) URL with a host is needed"
    if u.userinfo:
        return "credentials in the URL would be stored and logged; sign with the secret instead"
    if not allow_private and _is_ip(host) and private_address(host):
        return (f"{host} is a private, loopback or link-local address; set"
                " CASTLEGATE_WEBHOOK_ALLOW_PRIVATE=on to deliver inside your network")
    return None


def private_address(ip: str) -> bool:
    a = ipaddress.ip_address(ip)
    return a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_multicast or a.is_unspecified


def send(delivery: Delivery, secret: str | None, at: datetime, timeout: float, *,
         allow_private: bool = True) -> DeliveryAttempt:
    """POSTs ``delivery.body`` once. ``at`` (the scheduler's clock) is the attempt's time
    and the signature's timestamp; ``timeout`` bounds the whole exchange. Never raises:
    whatever goes wrong is the attempt's ``error``."""
    body = delivery.body.encode()
    number = len(delivery.attempts) + 1
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        "X-Castlegate-Event": delivery.event,
        "X-Castlegate-Delivery": delivery.id,
        "X-Castlegate-Attempt": str(number),
    }
    if secret:
        headers[HEADER] = signature_header(secret, body, int(at.timestamp()))
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        if not allow_private:
            _refuse_private(delivery.url)
        status = asyncio.run(asyncio.wait_for(_post(delivery.url, body, headers, timeout), timeout))
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except (asyncio.TimeoutError, httpx.TimeoutException):
        error = f"no answer within {timeout:g} s"
    except _Refused as e:
        error = str(e)
    except Exception as e:  # refused connection, bad TLS, a URL httpx cannot use ...
        error = f"{type(e).__name__}: {e}"
    return DeliveryAttempt(
        number=number, at=at, duration_ms=round((time.perf_counter() - started) * 1000, 2),
        status_code=status, error=error, delivered=error is None,
    )


async def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout) as client:
        async with client.stream("POST", url, content=body, headers=headers) as r:
            return r.status_code


class _Refused(Exception):
    pass


def _refuse_private(url: str) -> None:
    # checked at send time, on what the name resolves to now (a name set when the audit
    # was created may point inside the network later)
    u = httpx.URL(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    for info in socket.getaddrinfo(u.host, port, proto=socket.IPPROTO_TCP):
        ip = info[4][0]
        if private_address(ip):
            raise _Refused(f"not sent: {u.host} resolves to {ip}, a private address"
                           " (CASTLEGATE_WEBHOOK_ALLOW_PRIVATE is off)")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
