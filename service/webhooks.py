"""Sending one webhook attempt: sign, POST, time it, and say what happened.

Retries are not decided here (the scheduler does, from the recorded attempts); this only
makes one honest attempt and reports it. At-least-once: a receiver may see a delivery
again (same ``X-Castlegate-Delivery``) if castlegate stopped between sending and recording.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx

from graph.audits.model import Delivery, DeliveryAttempt
from graph.audits.signing import HEADER, signature_header
from service import __version__

__all__ = ["send"]

_USER_AGENT = f"castlegate-webhooks/{__version__}"


def send(client: httpx.Client, delivery: Delivery, secret: str | None, at: datetime,
         timeout: float) -> DeliveryAttempt:
    """POSTs ``delivery.body`` once. ``at`` (the scheduler's clock) is the attempt's time
    and the signature's timestamp; ``timeout`` bounds the whole exchange."""
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        "X-Castlegate-Event": delivery.event,
        "X-Castlegate-Delivery": delivery.id,
        "X-Castlegate-Attempt": str(len(delivery.attempts) + 1),
    }
    if secret:
        headers[HEADER] = signature_header(secret, body, int(at.timestamp()))
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        r = client.post(delivery.url, content=body, headers=headers, timeout=timeout)
        status = r.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except httpx.TimeoutException:
        error = f"no answer within {timeout:g} s"
    except httpx.HTTPError as e:
        error = f"{type(e).__name__}: {e}"
    return DeliveryAttempt(
        number=len(delivery.attempts) + 1, at=at,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        status_code=status, error=error, delivered=error is None,
    )
