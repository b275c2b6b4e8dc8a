"""Sending one webhook attempt: check the target, sign, POST, time it, and say what happened.

Retries are not decided here (the scheduler does, from the recorded attempts); this only
makes one honest attempt and reports it. At-least-once: a receiver may see a delivery
again (same ``X-Castlegate-Delivery``) if castlegate stopped between sending and recording.

Where a webhook may go (against SSRF: a webhook must not reach into the network castlegate
runs in), checked when it is set and again at every attempt:

* the host is read the way libc and curl read it: ``2130706433``, ``0x7f000001``,
  ``0177.0.0.1``, ``127.1`` are all 127.0.0.1 (``socket.inet_aton``); an IPv4-mapped IPv6
  address is its IPv4 address;
* every address must be globally routable (``ipaddress``' ``is_global``, and not
  multicast, reserved or unspecified): no loopback, private, carrier-grade NAT
  (100.64.0.0/10), link-local (169.254.0.0/16: cloud metadata), documentation, benchmark
  ... addresses;
* ``localhost`` and names under it (and the other special-use local names) are refused
  as written; any other name must resolve, and every address it resolves to must pass.

``CASTLEGATE_WEBHOOK_ALLOW_PRIVATE=on`` lifts the address rules (a receiver inside your
network), not the rest.

At send time the name is resolved once, all its addresses are checked, and the connection
goes to a checked address: the request is made to ``scheme://<that address>:port/...`` with
the URL's ``Host`` header and, for https, the URL's host name as TLS server name, so the
certificate is verified for the name (httpx's ``sni_hostname`` request extension). There is
no second look-up for a name that changed its answer (DNS rebinding) to exploit.
Redirects are not followed.

What an attempt records (and clients see) is a category: ``timeout``, ``refused``, ``dns``,
``tls``, ``blocked``, ``http <status>`` or ``error``; the details (exception text, the
addresses) go to the log only, so attempts are no port scanner.

The timeout bounds the whole attempt (look-up, connect, send, the answer's status line), not
each step: httpx's own timeouts are per step, so a receiver trickling bytes could hold a
delivery thread indefinitely. The answer's body is never read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from datetime import datetime
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

import httpx

from graph.audits.model import Delivery, DeliveryAttempt
from graph.audits.signing import HEADER, signature_header, standard_headers
from service import __version__

log = logging.getLogger("castlegate.webhooks")

__all__ = ["send", "url_problem", "private_address", "global_address", "Resolver", "CATEGORIES",
           "public_error", "numeric_host"]

_USER_AGENT = f"castlegate-webhooks/{__version__}"

#: ``socket.getaddrinfo``'s signature: (host, port, family, type, proto, flags)
Resolver = Callable[..., list]

#: what a failed attempt's ``error`` says (besides ``http <status>``)
CATEGORIES = ("timeout", "refused", "dns", "tls", "blocked", "error")

#: names that are local by definition, refused without a look-up
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")
#: what libc's inet_aton reads as an IPv4 address: one to four parts, each decimal, octal
#: (leading 0) or hex (0x)
_NUMERIC = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)
_ENDS_IN_NUMBER = re.compile(r"(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)

_ALLOW_HINT = "; set CASTLEGATE_WEBHOOK_ALLOW_PRIVATE=on to deliver inside your network"
#: seconds a look-up may take when a webhook is set (the request waits for it)
CHECK_LOOKUP_TIMEOUT = 10.0


class Target(NamedTuple):
    url: httpx.URL
    #: the URL's host as httpx sends it (lower case, IDNA, no brackets, no trailing dot)
    host: str
    port: int
    #: the host's address when the host is an address in any spelling, else None (a name)
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None


class _Blocked(Exception):
    """The target is not allowed; the message is for the log."""


class _BadTarget(ValueError):
    """The URL cannot be a webhook target at all; the message says why."""


# the rules -------------------------------------------------------------------------------
def global_address(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address. IPv4 embedded in IPv6 (mapped,
    6to4, NAT64) is judged as the IPv4 address it reaches.

    >>> [global_address(a) for a in ("8.8.8.8", "100.64.0.1", "127.0.0.1", "::ffff:127.0.0.1", "169.254.169.254")]
    [True, False, False, False, False]
    """
    a = ipaddress.ip_address(ip.split("%", 1)[0] if isinstance(ip, str) else ip)
    if isinstance(a, ipaddress.IPv6Address):
        if a.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            return global_address(a.ipv4_mapped)
        inner = a.sixtofour
        if inner is None and a in _NAT64:
            inner = ipaddress.IPv4Address(int(a) & 0xFFFFFFFF)
        if inner is not None and not global_address(inner):
            return False
    return a.is_global and not (a.is_multicast or a.is_reserved or a.is_unspecified or a.is_private)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def private_address(ip: str) -> bool:
    """Not ``global_address``: what is refused unless ``CASTLEGATE_WEBHOOK_ALLOW_PRIVATE``."""
    return not global_address(ip)


def numeric_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as an address means, in every spelling libc accepts
    (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, a trailing dot); None for
    a name. Raises ``ValueError`` for something numeric that is no address (``1.2.3.456``),
    which would otherwise go to DNS."""
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if h.endswith(".") and not h.endswith(".."):
        h = h[:-1]  # "127.0.0.1." is the same host to a resolver
    try:
        return ipaddress.ip_address(h.split("%", 1)[0] if ":" in h else h)
    except ValueError:
        pass
    if ":" in h:
        raise ValueError(f"{host!r} is not a valid IPv6 address")
    if _NUMERIC.fullmatch(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            pass
    if _NUMERIC.fullmatch(h) or _ENDS_IN_NUMBER.search(h):
        # no top-level domain is a number: as browsers do (WHATWG URL), such a host is an
        # IPv4 address or nothing, never a name to look up
        raise ValueError(f"{host!r} looks like an IPv4 address but is not one")
    return None


def _target(url: str) -> Target:
    """Parses and checks what does not depend on the network. Raises ``_BadTarget`` (a
    ``ValueError``) with the reason."""
    try:
        u = httpx.URL(url)
        host = u.host
        if host and not _is_ip(host):
            host.encode("idna")  # what httpx does when it connects: fail now, not then
        urlsplit(url).port  # raises on a bad port
    except Exception as e:  # httpx.InvalidURL, UnicodeError, ValueError
        raise _BadTarget(f"not a valid URL: {e}") from None
    if u.scheme not in ("http", "https") or not host:
        raise _BadTarget("an absolute http(s) URL with a host is needed")
    if u.userinfo:
        raise _BadTarget("credentials in the URL would be stored and logged; sign with the secret instead")
    try:
        ip = numeric_host(host)
    except ValueError as e:
        raise _BadTarget(str(e)) from None
    port = u.port or (443 if u.scheme == "https" else 80)
    return Target(u, host.rstrip(".") if ip is None else host, port, ip)


def url_problem(url: str, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> str | None:
    """Why ``url`` cannot be a webhook target, or None. Checked when a webhook is set (so
    a bad URL is a 422 naming ``webhook.url``, not a delivery that can never be tried);
    a name is resolved (``resolver``) and must resolve, to allowed addresses only."""
    try:
        t = _target(url)
    except ValueError as e:
        return str(e)
    if t.ip is not None:
        if not allow_private and not global_address(t.ip):
            means = getattr(t.ip, "ipv4_mapped", None) or t.ip
            shown = t.host if str(means) == t.host else f"{t.host} (that is {means})"
            return f"{shown} is not a public address (private, loopback, link-local, shared or reserved){_ALLOW_HINT}"
        return None
    if not allow_private and _local_name(t.host):
        return f"{t.host} is a local name{_ALLOW_HINT}"
    try:
        addresses = _resolve_within(resolver, t.host, t.port, CHECK_LOOKUP_TIMEOUT)
    except asyncio.TimeoutError:
        return f"{t.host} could not be resolved within {CHECK_LOOKUP_TIMEOUT:g} s; try again"
    except OSError:  # socket.gaierror, and what a resolver may raise besides
        return f"{t.host} does not resolve: a webhook's host must have an address when it is set"
    if not allow_private and not all(global_address(a) for a in addresses):
        # not which address: the answer would map the service's internal DNS
        return f"{t.host} resolves to an address that is not public{_ALLOW_HINT}"
    return None


def _local_name(host: str) -> bool:
    h = host.rstrip(".").lower()
    return h in _LOCAL_NAMES or h.endswith(_LOCAL_SUFFIXES)


def _resolve(resolver: Resolver, host: str, port: int) -> list[str]:
    """The host's addresses, in the resolver's order, each once. Raises ``socket.gaierror``
    (also for an empty answer)."""
    seen: dict[str, None] = {}
    for info in resolver(host, port, 0, socket.SOCK_STREAM):
        family, sockaddr = info[0], info[4]
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault(str(sockaddr[0]), None)
    if not seen:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return list(seen)


# one attempt ---------------------------------------------------------------------------
def send(delivery: Delivery, secret: str | None, at: datetime, timeout: float, *,
         allow_private: bool = False, resolver: Resolver = socket.getaddrinfo,
         verify: ssl.SSLContext | bool = True) -> DeliveryAttempt:
    """POSTs ``delivery.body`` once. ``at`` (the scheduler's clock) is the attempt's time
    and the signatures' timestamp; ``timeout`` bounds the whole exchange, the look-up
    included. The host is resolved once, with ``resolver``; every address is checked and
    the request goes to a checked address. ``verify``: TLS trust (tests pass their own
    authority). Never raises: whatever goes wrong is the attempt's ``error``, a category."""
    body = delivery.body.encode()
    number = len(delivery.attempts) + 1
    timestamp = int(at.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        "X-Castlegate-Event": delivery.event,
        "X-Castlegate-Delivery": delivery.id,
        "X-Castlegate-Attempt": str(number),
    }
    if secret:
        headers[HEADER] = signature_header(secret, body, timestamp)
        headers |= standard_headers(secret, delivery.id, timestamp, body)
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        target = _target(delivery.url)
        addresses = _addresses(target, allow_private, resolver, timeout)
        left = timeout - (time.perf_counter() - started)
        if left <= 0:
            raise asyncio.TimeoutError
        status = asyncio.run(asyncio.wait_for(
            _post_pinned(target, addresses, body, headers, left, verify), left))
        if not 200 <= status < 300:
            error = f"http {status}"
    except Exception as e:
        error = _category(e)
        log.warning("webhook attempt failed", extra={
            "delivery": delivery.id, "attempt": number, "category": error,
            "detail": f"{type(e).__name__}: {e}" if str(e) else type(e).__name__})
    return DeliveryAttempt(
        number=number, at=at, duration_ms=round((time.perf_counter() - started) * 1000, 2),
        status_code=status, error=error, delivered=error is None,
    )


def _addresses(t: Target, allow_private: bool, resolver: Resolver, timeout: float) -> list[str]:
    """The checked addresses to connect to, in order. Raises ``_Blocked``,
    ``socket.gaierror`` or ``asyncio.TimeoutError``."""
    if t.ip is not None:
        addresses = [str(t.ip)]
    else:
        if not allow_private and _local_name(t.host):
            raise _Blocked(f"{t.host} is a local name")
        addresses = _resolve_within(resolver, t.host, t.port, timeout)
    if not allow_private:
        bad = [a for a in addresses if not global_address(a)]
        if bad:
            raise _Blocked(f"{t.host} resolves to {', '.join(bad)}, not public"
                           " (CASTLEGATE_WEBHOOK_ALLOW_PRIVATE is off)")
    return addresses


def _resolve_within(resolver: Resolver, host: str, port: int, timeout: float) -> list[str]:
    # getaddrinfo cannot be cancelled: it runs on a thread of its own that is left
    # behind (and ends with the resolver's own timeout) when it takes too long
    out: list = []

    def look_up() -> None:
        try:
            out.append(_resolve(resolver, host, port))
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            out.append(e)

    t = threading.Thread(target=look_up, name="webhook-dns", daemon=True)
    t.start()
    t.join(timeout)
    if not out:
        raise asyncio.TimeoutError(f"resolving {host} took longer than {timeout:g} s")
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


async def _post_pinned(t: Target, addresses: list[str], body: bytes, headers: dict[str, str],
                       timeout: float, verify: ssl.SSLContext | bool) -> int:
    """POSTs to the first of ``addresses`` that takes the connection (only a refused or
    unreachable connection moves on to the next: nothing was sent yet)."""
    pinned_headers = headers | {"Host": t.url.netloc.decode("ascii")}
    extensions = {}
    if t.url.scheme == "https" and t.ip is None:
        extensions["sni_hostname"] = t.host
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, retries=0)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=timeout,
                                 trust_env=False) as client:
        for i, address in enumerate(addresses):
            url = t.url.copy_with(host=address.split("%", 1)[0], port=t.port)
            request = client.build_request("POST", url, content=body, headers=pinned_headers,
                                           extensions=extensions)
            try:
                r = await client.send(request, stream=True)
            except httpx.ConnectError as e:
                if i + 1 < len(addresses) and _category(e) in ("refused", "error"):
                    log.info("webhook address did not take the connection; trying the next",
                             extra={"host": t.host, "address": address, "error": str(e)})
                    continue
                raise
            try:
                return r.status_code
            finally:
                await r.aclose()
    raise AssertionError("no address")  # _resolve never answers none


# what clients see ------------------------------------------------------------------------
def _category(e: BaseException) -> str:
    if isinstance(e, (_Blocked, _BadTarget)):
        return "blocked"
    chain = list(_chain(e))
    if any(isinstance(x, (asyncio.TimeoutError, TimeoutError, httpx.TimeoutException, socket.timeout))
           for x in chain):
        return "timeout"
    if any(isinstance(x, socket.gaierror) for x in chain):
        return "dns"
    if any(isinstance(x, (ssl.SSLError, ssl.CertificateError)) for x in chain):
        return "tls"
    if any(isinstance(x, ConnectionRefusedError) for x in chain):
        return "refused"
    return "error"


def _chain(e: BaseException):
    seen: set[int] = set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        yield x
        x = x.__cause__ or x.__context__


#: what attempts recorded before categories said, mapped onto the categories
_LEGACY = (
    (re.compile(r"^HTTP (\d{3})$"), None),
    (re.compile(r"^no answer within "), "timeout"),
    (re.compile(r"^not sent: .* (resolves to|is a private)"), "blocked"),
    (re.compile(r"gaierror|Name or service not known|nodename nor servname|getaddrinfo", re.I), "dns"),
    (re.compile(r"SSL|certificate|TLS", re.I), "tls"),
    (re.compile(r"refused", re.I), "refused"),
)


def public_error(error: str | None) -> str | None:
    """An attempt's ``error`` as clients may see it: a category (attempts recorded before
    categories held exception text, which is mapped here), or the reason an attempt was
    not made (a webhook removed or moved).

    >>> [public_error(e) for e in ("refused", "http 500", "HTTP 503", "ConnectError: [Errno 111] Connection refused")]
    ['refused', 'http 500', 'http 503', 'refused']
    """
    if error is None or error in CATEGORIES or re.fullmatch(r"http \d{3}", error):
        return error
    if error.startswith("not sent: the audit's webhook was"):
        return error
    for pattern, category in _LEGACY:
        m = pattern.search(error)
        if m:
            return category or f"http {m.group(1)}"
    return "error"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
