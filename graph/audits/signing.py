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

Every delivery is also signed the Standard Webhooks way (https://www.standardwebhooks.com),
so that a receiver can use that specification's libraries as they are::

    webhook-id: <the delivery id>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}." + body)>

The key is what the specification makes of a ``whsec_<base64>`` secret: the decoded bytes
(castlegate generates its secrets in that form, so ``standardwebhooks.Webhook(secret)``
verifies them). Any other secret (one a client chose) is keyed by its UTF-8 bytes: pass
``secret.encode()`` to ``Webhook``. The two schemes use different keys from one secret;
neither signature says anything about the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

__all__ = ["HEADER", "sign", "signature_header", "verify", "standard_key", "standard_signature",
           "standard_headers", "verify_standard", "STANDARD_PREFIX"]

HEADER = "X-Castlegate-Signature"
#: what marks a secret whose key is the base64 after it (Standard Webhooks)
STANDARD_PREFIX = "whsec_"


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


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key of ``secret``: the bytes of ``whsec_<base64>`` (strict
    standard base64, as castlegate generates), else the secret's UTF-8 bytes.

    Examples
    --------
    >>> standard_key("whsec_AAEC")
    b'\\x00\\x01\\x02'
    >>> standard_key("my-own-secret-123456")
    b'my-own-secret-123456'
    """
    if secret.startswith(STANDARD_PREFIX):
        rest = secret[len(STANDARD_PREFIX):]
        try:
            key = base64.b64decode(rest, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if key and len(rest) % 4 == 0:
            return key
    return secret.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{msg_id}.{timestamp}." + body`` under
    ``standard_key(secret)``: the ``webhook-signature`` header's value."""
    mac = hmac.new(standard_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def standard_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(secret, msg_id, timestamp, body)}


def verify_standard(secret: str, body: bytes, headers: dict[str, str], *, tolerance: float = 300.0,
                    now: float | None = None) -> bool:
    """True when ``headers`` (any case) carry a valid Standard Webhooks signature of
    ``body`` under ``secret`` made within ``tolerance`` seconds of ``now``."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, t = h["webhook-id"], int(h["webhook-timestamp"])
        given = h["webhook-signature"].split(" ")
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        return False
    want = standard_signature(secret, msg_id, t, body).encode()
    return any(hmac.compare_digest(want, g.encode("utf-8", "replace")) for g in given)
