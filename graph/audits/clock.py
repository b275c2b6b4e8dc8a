"""Where the scheduler gets "now" from.

The scheduler never calls ``datetime.now`` itself: it asks a clock, so that tests (and a
rehearsal of a schedule) can move time instead of waiting for it.

* ``SystemClock``: the real time, in production.
* ``ManualClock``: set and advanced by code, for in-process tests.
* ``FileClock``: reads an RFC 3339 time from a file on every call, so a test can move the
  time of a *running service process* (``CASTLEGATE_CLOCK=file:/path``). Only time the
  schedule sees is moved: HTTP timeouts and leases' renewal pace stay in real seconds.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

__all__ = ["Clock", "SystemClock", "ManualClock", "FileClock", "clock_from_setting"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, tz-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return "system"


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = _aware(at)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


class FileClock:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        text = self.path.read_text().strip()
        try:
            return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"clock file {self.path} holds {text!r}, not an RFC 3339 time") from None

    def set(self, at: datetime) -> None:
        """Atomically, so a reader never sees half a timestamp."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(_aware(at).isoformat())
        tmp.replace(self.path)

    def advance(self, delta: timedelta) -> datetime:
        at = self.now() + delta
        self.set(at)
        return at

    def __repr__(self) -> str:
        return f"file:{self.path}"


def clock_from_setting(value: str) -> Clock:
    """``"system"`` or ``"file:PATH"`` (``CASTLEGATE_CLOCK``)."""
    if value == "system":
        return SystemClock()
    if value.startswith("file:") and len(value) > 5:
        return FileClock(value[5:])
    raise ValueError(f"clock must be 'system' or 'file:PATH', got {value!r}")


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("clock times need a timezone")
    return at.astimezone(timezone.utc)
