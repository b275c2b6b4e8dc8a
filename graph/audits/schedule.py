"""When a scheduled audit runs: every ISO 8601 duration from an anchor, or on a cron line.

Both kinds answer two questions about an instant ``t``: the latest slot at or before ``t``
(what a due run is labelled with) and the first slot strictly after ``t`` (the next run).
Every slot is a timezone-aware UTC datetime; the wall clock is the schedule's IANA zone.

``every``
    Slots are ``anchor + k * period`` for ``k = 0, 1, 2, ...``. Years, months, weeks and
    days are calendar arithmetic on the anchor's *wall clock* in the schedule's zone, since
    "daily at 06:00 Berlin" must stay at 06:00 when the clocks change (a day is then 23 or
    25 hours long). Months clamp the day (Jan 31 + P1M = Feb 28/29) and slot ``k`` is
    computed from the anchor, not from slot ``k - 1``, so the schedule returns to the 31st
    in March. Hours, minutes and seconds are elapsed time, added after the calendar part.
    A calendar slot whose wall time falls in a DST gap is taken with the offset in force
    before the gap, i.e. it is moved later by the gap's length (02:30 -> 03:30 in Berlin).
``cron``
    Five fields, minute hour day-of-month month day-of-week, with Vixie cron's rule: when
    both day fields are restricted, a day matches when *either* matches ("0 0 13 * FRI" is
    every 13th and every Friday); when one of them starts with ``*`` (``*`` or ``*/n``),
    both must match. Times are wall clock in the schedule's zone. Unlike Vixie cron, a time
    skipped by a DST gap does not fire that day (no catch-up run), and a time repeated by a
    DST fold fires once, at its first occurrence: an audit should not run twice an hour
    apart because of a clock change.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from graph.errors import FieldError, InvalidInput

__all__ = ["Schedule"]

UTC = timezone.utc

_DURATION = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
_DURATION_HINT = "ISO 8601 duration expected, like P1D, PT6H, P1W, P1M or P1DT12H (integers only)"
# mean Gregorian month, only to estimate a slot index that is then corrected exactly
_MONTH_SECONDS = 365.2425 * 86400 / 12

_MACROS = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = {n: i for i, n in enumerate(
    "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DAYS = {n: i for i, n in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day-of-week", 0, 7, _DAYS))
_PART = re.compile(r"(\*|\w+(?:-\w+)?)(?:/(\d+))?")
# the Gregorian calendar (weekdays included) repeats every 400 years: a cron line that has
# not fired in that long never will (e.g. Feb 29 on a Sunday can be 40 years apart)
_HORIZON_YEARS = 401
_DAY = timedelta(days=1)


class _Bad(Exception):
    """A message for one FieldError, raised deep in a parser."""


@dataclass(frozen=True)
class _Every:
    months: int
    days: int
    exact: timedelta

    def slot(self, k: int, anchor: datetime, tz: ZoneInfo) -> datetime:
        if not (self.months or self.days):
            return anchor + k * self.exact
        local = anchor.astimezone(tz)
        y, m = divmod(local.year * 12 + local.month - 1 + k * self.months, 12)
        day = date(y, m + 1, min(local.day, monthrange(y, m + 1)[1]))
        wall = datetime.combine(day + timedelta(days=k * self.days), local.timetz())
        return wall.astimezone(UTC) + k * self.exact

    def index(self, t: datetime, anchor: datetime, tz: ZoneInfo) -> int:
        """The largest k with slot k <= t, for t >= anchor."""
        if not (self.months or self.days):
            return (t - anchor) // self.exact
        mean = self.months * _MONTH_SECONDS + self.days * 86400 + self.exact.total_seconds()
        k = max(0, int((t - anchor).total_seconds() // mean))
        # month lengths and DST shifts keep the estimate within a step or two
        while k > 0 and self.slot(k, anchor, tz) > t:
            k -= 1
        while self.slot(k + 1, anchor, tz) <= t:
            k += 1
        return k


@dataclass(frozen=True)
class _Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]
    either_day: bool  # Vixie: both day fields restricted -> OR

    def day_matches(self, d: date) -> bool:
        dom, dow = d.day in self.doms, d.isoweekday() % 7 in self.dows
        return (dom or dow) if self.either_day else (dom and dow)

    def fire(self, d: date, h: int, m: int, tz: ZoneInfo) -> datetime | None:
        """The UTC instant of wall time d h:m (first occurrence), None if in a gap."""
        wall = datetime(d.year, d.month, d.day, h, m, tzinfo=tz)
        utc = wall.astimezone(UTC)
        return utc if utc.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None) else None

    def search(self, t: datetime, tz: ZoneInfo, forward: bool) -> datetime | None:
        """First slot > t (forward) or last slot <= t (backward); None past the horizon."""
        start = t.astimezone(tz)
        day, step = start.date(), timedelta(days=1 if forward else -1)
        end_year = start.year + (_HORIZON_YEARS if forward else -_HORIZON_YEARS)
        hours = self.hours if forward else self.hours[::-1]
        minutes = self.minutes if forward else self.minutes[::-1]
        try:
            while (day.year <= end_year) if forward else (day.year >= end_year):
                if day.month not in self.months:  # skip the whole month
                    first = day.replace(day=1)
                    day = (first + timedelta(days=32)).replace(day=1) if forward else first - _DAY
                    continue
                if self.day_matches(day):
                    for h in hours:
                        # fold-0 wall times are ordered like their UTC instants, so hours
                        # on the wrong side of t's wall hour cannot qualify
                        if day == start.date() and (h < start.hour if forward else h > start.hour):
                            continue
                        for m in minutes:
                            slot = self.fire(day, h, m, tz)
                            if slot is not None and (slot > t if forward else slot <= t):
                                return slot
                day += step
        except OverflowError:  # ran off datetime's range (year 1 or 9999)
            return None
        return None


def _parse_every(text: str) -> _Every:
    match = _DURATION.fullmatch(text)
    if text == "P" or not match:
        raise _Bad(f"{_DURATION_HINT}, got {text!r}")
    y, mo, w, d, h, mi, s = (int(g or 0) for g in match.groups())
    rule = _Every(12 * y + mo, 7 * w + d, timedelta(hours=h, minutes=mi, seconds=s))
    if not (rule.months or rule.days or rule.exact):
        raise _Bad(f"duration {text!r} is zero; at least PT1M")
    if not (rule.months or rule.days) and rule.exact < timedelta(minutes=1):
        raise _Bad(f"duration {text!r} is too short; at least PT1M")
    if rule.months * 31 + rule.days + rule.exact / timedelta(days=1) > 36525:
        raise _Bad(f"duration {text!r} is too long; at most P100Y")
    return rule


def _parse_field(text: str, name: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    def value(token: str) -> int:
        v = names.get(token.upper()) if names else None
        if v is None and not (token.isascii() and token.isdigit()):
            raise _Bad(f"{name}: unknown value {token!r} in {text!r}")
        v = int(token) if v is None else v
        if not lo <= v <= hi:
            raise _Bad(f"{name}: {v} out of range {lo}-{hi} in {text!r}")
        return v

    out: set[int] = set()
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if not match:
            raise _Bad(f"{name}: cannot read {part!r} (use *, n, a-b, a,b, */n, a-b/n, a/n)")
        span, step = match.groups()
        if span == "*":
            a, b = lo, hi
        elif "-" in span:
            a, b = (value(x) for x in span.split("-"))
            if a > b:
                raise _Bad(f"{name}: range {span!r} is backwards")
        else:
            a = value(span)
            b = hi if step else a  # "a/n" means a-max/n
        if step is not None and int(step) == 0:
            raise _Bad(f"{name}: step must be at least 1 in {part!r}")
        out.update(range(a, b + 1, int(step or 1)))
    return out


def _parse_cron(text: str) -> _Cron:
    expanded = _MACROS.get(text.lower(), text) if text.startswith("@") else text
    if expanded.startswith("@"):
        raise _Bad(f"unknown macro {text!r}; use one of {', '.join(_MACROS)}")
    fields = expanded.split()
    if len(fields) != 5:
        raise _Bad(f"5 fields expected (minute hour day-of-month month day-of-week), "
                   f"got {len(fields)}")
    mins, hours, doms, months, dows = (
        _parse_field(f, *spec) for f, spec in zip(fields, _FIELDS))
    return _Cron(tuple(sorted(mins)), tuple(sorted(hours)), frozenset(doms),
                 frozenset(months), frozenset(d % 7 for d in dows),
                 either_day=not fields[2].startswith("*") and not fields[4].startswith("*"))


def _utc(t: datetime, what: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {t!r}")
    # compare in UTC only: aware datetimes sharing a tzinfo compare by wall clock, ignoring fold
    return t.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """When a scheduled audit runs: every ISO 8601 duration from an anchor, or on cron.

    A schedule is a set of instants (*slots*). With ``every``, slot ``k`` is the anchor
    plus ``k`` periods (``k >= 0``), the calendar part of the period (Y, M, W, D) on the
    wall clock of ``timezone``, the H/M/S part as elapsed time. With ``cron``, the slots
    are the wall-clock minutes of ``timezone`` that the five fields match (Vixie rules;
    a time in a DST gap is skipped, a time in a fold fires once). Build with :meth:`parse`.

    Parameters
    ----------
    every : str or None
        ISO 8601 duration ``P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S``, integers, at least ``PT1M``.
    cron : str or None
        Five fields (minute hour day-of-month month day-of-week) or a macro such as
        ``@daily``. Exactly one of ``every`` and ``cron``.
    timezone : str
        IANA zone of the wall clock, "UTC" by default.
    anchor : datetime
        Timezone-aware first slot; required with ``every``, ignored with ``cron``.

    Raises
    ------
    graph.errors.InvalidInput
        One FieldError per bad field ("every", "cron" or "timezone").

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> s = Schedule.parse(every="P1D", anchor=datetime(2026, 1, 5, 6, tzinfo=timezone.utc))
    >>> s.next_after(datetime(2026, 3, 1, 12, tzinfo=timezone.utc)).isoformat()
    '2026-03-02T06:00:00+00:00'
    >>> s.latest_at_or_before(datetime(2026, 3, 1, 12, tzinfo=timezone.utc)).isoformat()
    '2026-03-01T06:00:00+00:00'
    >>> s.latest_at_or_before(datetime(2026, 1, 1, tzinfo=timezone.utc)) is None
    True
    >>> c = Schedule.parse(cron="0 6 * * 1", timezone="Europe/Berlin")
    >>> c.next_after(datetime(2026, 7, 1, tzinfo=timezone.utc)).isoformat()
    '2026-07-06T04:00:00+00:00'
    >>> c.describe()
    "cron '0 6 * * 1' (Europe/Berlin)"
    """

    every: str | None
    cron: str | None
    timezone: str
    anchor: datetime | None  # UTC; None with cron
    _rule: _Every | _Cron = field(repr=False, compare=False)
    _tz: ZoneInfo = field(repr=False, compare=False)

    @classmethod
    def parse(cls, *, every: str | None = None, cron: str | None = None,
              timezone: str | None = "UTC", anchor: datetime | None = None) -> Schedule:
        errors: list[FieldError] = []
        tz = rule = None
        key = "UTC" if timezone is None else timezone
        try:
            tz = ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            errors.append(FieldError("timezone", f"unknown IANA timezone {key!r}"))
        if every is not None and cron is not None:
            errors.append(FieldError("every", "give either every or cron, not both"))
        elif every is None and cron is None:
            errors.append(FieldError("every", "give every (ISO 8601 duration) or cron"))
        else:
            name, text = ("every", every) if every is not None else ("cron", cron)
            try:
                if not isinstance(text, str):
                    raise _Bad(f"a string expected, got {type(text).__name__}")
                text = text.strip().upper() if name == "every" else " ".join(text.split())
                rule = _parse_every(text) if name == "every" else _parse_cron(text)
                if name == "cron" and tz is not None:
                    # exact for any rule: the search spans a whole Gregorian cycle
                    if rule.search(datetime(2000, 1, 1, tzinfo=UTC), tz, True) is None:
                        raise _Bad(f"never fires: {text!r} matches no existing wall-clock "
                                   "time (a day the chosen months lack, or a DST gap)")
            except _Bad as e:
                errors.append(FieldError(name, str(e)))
        if errors:
            raise InvalidInput(errors)
        if isinstance(rule, _Every):
            if anchor is None:
                raise ValueError("anchor is required with every")
            return cls(text, None, key, _utc(anchor, "anchor"), rule, tz)
        return cls(None, text, key, None, rule, tz)

    def next_after(self, t: datetime) -> datetime:
        """The first slot strictly after ``t``, in UTC."""
        t = _utc(t, "t")
        if isinstance(self._rule, _Cron):
            slot = self._rule.search(t, self._tz, True)
            if slot is None:  # only past year 9999, or a DST-rule change in the zone
                raise OverflowError(f"no slot of {self.describe()} after {t.isoformat()}")
            return slot
        if t < self.anchor:
            return self.anchor
        return self._rule.slot(self._rule.index(t, self.anchor, self._tz) + 1,
                               self.anchor, self._tz)

    def latest_at_or_before(self, t: datetime) -> datetime | None:
        """The latest slot at or before ``t``, in UTC; None when there is none."""
        t = _utc(t, "t")
        if isinstance(self._rule, _Cron):
            return self._rule.search(t, self._tz, False)
        if t < self.anchor:
            return None
        return self._rule.slot(self._rule.index(t, self.anchor, self._tz), self.anchor, self._tz)

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' ({self.timezone})"
        start = self.anchor.astimezone(self._tz).isoformat()
        return f"every {self.every} from {start} ({self.timezone})"
