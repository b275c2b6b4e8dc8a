r"""Webhook signatures: how a receiver knows a delivery came from castlegate, unchanged,
and recently.

Every delivery carries

    X-Castlegate-Signature: t=<unix seconds>,v1=<hex>

where ``v1 = HMAC-SHA256(secret, f"{t}." + body)`` over the exact bytes of the body. The
timestamp is inside the MAC, so a captured request cannot be replayed later with a fresh
``t``; a receiver refuses a ``t`` older than its tolerance (five minutes by default) and, to
be exactly-once, remembers the ``X-Castlegate-Delivery`` ids it has processed (a retry of a
delivery keeps its id).

A receiver verifies with nothing but the standard library::

    import hashlib, hmac, time
    def verify(secret: str, body: bytes, header: str, tolerance=300) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac.encode(), parts["v1"].encode()) and abs(time.time() - t) <= tolerance

(``verify`` below is the same, with a clock that can be passed in.)
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["HEADER", "sign", "signature_header", "verify"]

HEADER = "X-Castlegate-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}." + body`` under ``secret``.

    Examples
    --------
    >>> sign("whsec-example-0001", b'{"a":1}', 1767592800)[:16]
    'f0b3186121563bad'
    """
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={sign(secret, body, timestamp)}"


def verify(secret: str, body: bytes, header: str, *, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """True when ``header`` is a valid signature of ``body`` under ``secret`` made within
    ``tolerance`` seconds of ``now`` (default: the current time)."""
    try:
        parts = dict(p.strip().split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    # bytes, because compare_digest refuses non-ASCII str: a forged header must be a
    # False, not an exception in the receiver
    return hmac.compare_digest(sign(secret, body, t).encode(), given.encode()) and abs(now - t) <= tolerance
