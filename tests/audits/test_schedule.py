"""Audit schedules: ISO 8601 periods and cron lines, with values worked out by hand.

Calendar facts used below: 2026-01-05 and 2026-04-13 are Mondays; 2026-01-11, 2026-03-29
and 2026-10-25 are Sundays; 2026-04-03/10/17 and 2027-01-01 are Fridays. Europe/Berlin
goes CET (+01) -> CEST (+02) at 01:00 UTC on 2026-03-29 (02:00-03:00 local never happens)
and back at 01:00 UTC on 2026-10-25 (02:00-03:00 local happens twice).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from graph.audits.schedule import Schedule
from graph.errors import FieldError, InvalidInput

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def u(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def every(period: str, anchor: datetime, tz: str = "UTC") -> Schedule:
    return Schedule.parse(every=period, timezone=tz, anchor=anchor)


def cron(line: str, tz: str = "UTC") -> Schedule:
    return Schedule.parse(cron=line, timezone=tz)


def errors_of(**kwargs) -> list[FieldError]:
    with pytest.raises(InvalidInput) as info:
        Schedule.parse(**kwargs)
    return info.value.errors


# --- every: fixed and calendar periods -------------------------------------------------


def test_p1d_latest_and_next():
    s = every("P1D", u(2026, 1, 5, 6))
    assert s.latest_at_or_before(u(2026, 3, 1, 12)) == u(2026, 3, 1, 6)
    assert s.next_after(u(2026, 3, 1, 12)) == u(2026, 3, 2, 6)


def test_exactly_at_a_slot():
    s = every("P1D", u(2026, 1, 5, 6))
    assert s.latest_at_or_before(u(2026, 1, 7, 6)) == u(2026, 1, 7, 6)
    assert s.next_after(u(2026, 1, 7, 6)) == u(2026, 1, 8, 6)
    # one microsecond before the slot still belongs to the previous one
    assert s.latest_at_or_before(u(2026, 1, 7, 5, 59, 59, 999999)) == u(2026, 1, 6, 6)
    # the anchor is slot 0
    assert s.latest_at_or_before(u(2026, 1, 5, 6)) == u(2026, 1, 5, 6)
    assert s.next_after(u(2026, 1, 5, 6)) == u(2026, 1, 6, 6)


def test_before_the_anchor():
    s = every("PT6H", u(2026, 1, 5, 6))
    assert s.latest_at_or_before(u(2026, 1, 5, 5, 59)) is None
    assert s.latest_at_or_before(u(2020, 1, 1)) is None
    assert s.next_after(u(2026, 1, 5, 5, 59)) == u(2026, 1, 5, 6)


def test_pt6h():
    s = every("PT6H", u(2026, 1, 5, 6))
    assert s.latest_at_or_before(u(2026, 1, 6, 5, 59)) == u(2026, 1, 6, 0)
    assert s.next_after(u(2026, 1, 6, 5, 59)) == u(2026, 1, 6, 6)
    assert s.next_after(u(2026, 1, 6, 6)) == u(2026, 1, 6, 12)


def test_p1w():
    s = every("P1W", u(2026, 1, 5, 6))  # Mondays 06:00
    assert s.latest_at_or_before(u(2026, 2, 1)) == u(2026, 1, 26, 6)
    assert s.next_after(u(2026, 2, 1)) == u(2026, 2, 2, 6)


def test_p1m_clamps_month_end_and_returns_to_the_31st():
    s = every("P1M", u(2026, 1, 31, 9))
    assert s.next_after(u(2026, 1, 31, 9)) == u(2026, 2, 28, 9)
    assert s.latest_at_or_before(u(2026, 3, 15)) == u(2026, 2, 28, 9)
    assert s.next_after(u(2026, 2, 28, 9)) == u(2026, 3, 31, 9)
    assert s.next_after(u(2026, 3, 31, 9)) == u(2026, 4, 30, 9)
    assert s.next_after(u(2026, 4, 30, 9)) == u(2026, 5, 31, 9)
    assert every("P1M", u(2028, 1, 31, 9)).next_after(u(2028, 2, 1)) == u(2028, 2, 29, 9)


def test_p1y_from_february_29th():
    s = every("P1Y", u(2024, 2, 29, 12))
    assert s.next_after(u(2024, 2, 29, 12)) == u(2025, 2, 28, 12)
    assert s.latest_at_or_before(u(2028, 2, 29, 11, 59)) == u(2027, 2, 28, 12)
    assert s.next_after(u(2027, 3, 1)) == u(2028, 2, 29, 12)


def test_combined_p1dt12h():
    s = every("P1DT12H", u(2026, 1, 5, 6))  # 06:00, +36 h each
    assert s.next_after(u(2026, 1, 5, 6)) == u(2026, 1, 6, 18)
    assert s.latest_at_or_before(u(2026, 1, 8, 5)) == u(2026, 1, 6, 18)
    assert s.next_after(u(2026, 1, 8, 5)) == u(2026, 1, 8, 6)


def test_lowercase_and_spaces_are_normalised():
    s = Schedule.parse(every=" p1d ", anchor=u(2026, 1, 5, 6))
    assert s.every == "P1D"
    assert s.next_after(u(2026, 1, 5, 6)) == u(2026, 1, 6, 6)


def test_far_in_the_future_is_fast():
    s = every("PT1M", u(2026, 1, 1))
    t = u(2026, 1, 1) + timedelta(minutes=100_000, seconds=30)  # 69 d 10 h 40 min
    start = time.perf_counter()
    assert s.latest_at_or_before(t) == u(2026, 3, 11, 10, 40)
    assert s.next_after(t) == u(2026, 3, 11, 10, 41)
    monthly = every("P1M", u(2026, 1, 31, 9))
    assert monthly.latest_at_or_before(u(3026, 1, 1)) == u(3025, 12, 31, 9)
    assert monthly.next_after(u(3026, 1, 1)) == u(3026, 1, 31, 9)
    daily = every("P1D", datetime(2026, 1, 5, 6, tzinfo=BERLIN), "Europe/Berlin")
    assert daily.latest_at_or_before(u(2300, 7, 1)) == u(2300, 6, 30, 4)  # 06:00 CEST
    assert time.perf_counter() - start < 0.5


def test_p1d_keeps_local_time_across_dst_in_berlin():
    s = every("P1D", datetime(2026, 3, 27, 6, tzinfo=BERLIN), "Europe/Berlin")
    assert s.anchor == u(2026, 3, 27, 5)
    assert s.next_after(u(2026, 3, 28, 5)) == u(2026, 3, 29, 4)  # 06:00 CEST
    assert s.next_after(u(2026, 3, 29, 4)) == u(2026, 3, 30, 4)
    # autumn: 06:00 CEST on the 24th is 04:00 UTC, 06:00 CET on the 25th is 05:00 UTC
    assert s.latest_at_or_before(u(2026, 10, 25, 4, 30)) == u(2026, 10, 24, 4)
    assert s.next_after(u(2026, 10, 25, 4, 30)) == u(2026, 10, 25, 5)


def test_pt24h_is_elapsed_time_not_wall_clock():
    s = every("PT24H", datetime(2026, 3, 27, 6, tzinfo=BERLIN), "Europe/Berlin")
    assert s.next_after(u(2026, 3, 28, 5)) == u(2026, 3, 29, 5)  # 07:00 CEST


def test_p1d_slot_in_dst_gap_moves_later_by_the_gap():
    s = every("P1D", datetime(2026, 3, 28, 2, 30, tzinfo=BERLIN), "Europe/Berlin")
    assert s.next_after(u(2026, 3, 28, 1, 30)) == u(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert s.next_after(u(2026, 3, 29, 1, 30)) == u(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_results_are_utc_whatever_the_input_zone():
    s = every("P1D", datetime(2026, 1, 5, 6, tzinfo=BERLIN), "Europe/Berlin")
    result = s.next_after(datetime(2026, 1, 6, 12, tzinfo=BERLIN))
    assert result == u(2026, 1, 7, 5) and result.tzinfo is UTC
    assert s.latest_at_or_before(datetime(2026, 1, 6, 12, tzinfo=BERLIN)).tzinfo is UTC
    assert cron("0 6 * * *", "Europe/Berlin").next_after(u(2026, 1, 5)).tzinfo is UTC


def test_describe():
    assert every("P1D", u(2026, 1, 5, 6)).describe() == (
        "every P1D from 2026-01-05T06:00:00+00:00 (UTC)")
    assert every("P1D", u(2026, 1, 5, 5), "Europe/Berlin").describe() == (
        "every P1D from 2026-01-05T06:00:00+01:00 (Europe/Berlin)")
    assert cron(" 0  6 * *   1", "Europe/Berlin").describe() == "cron '0 6 * * 1' (Europe/Berlin)"


# --- cron ------------------------------------------------------------------------------


def test_cron_daily_across_dst_in_berlin():
    s = cron("0 6 * * *", "Europe/Berlin")
    assert s.next_after(u(2026, 3, 28, 12)) == u(2026, 3, 29, 4)
    assert s.latest_at_or_before(u(2026, 3, 29, 4)) == u(2026, 3, 29, 4)
    assert s.latest_at_or_before(u(2026, 3, 29, 3, 59)) == u(2026, 3, 28, 5)
    assert s.next_after(u(2026, 10, 24, 12)) == u(2026, 10, 25, 5)
    assert s.latest_at_or_before(u(2026, 10, 25, 4, 30)) == u(2026, 10, 24, 4)


def test_cron_time_in_dst_gap_is_skipped():
    s = cron("30 2 * * *", "Europe/Berlin")
    assert s.next_after(u(2026, 3, 28, 12)) == u(2026, 3, 30, 0, 30)
    assert s.latest_at_or_before(u(2026, 3, 30, 0)) == u(2026, 3, 28, 1, 30)


def test_cron_time_in_dst_fold_fires_once():
    s = cron("30 2 * * *", "Europe/Berlin")
    assert s.next_after(u(2026, 10, 25)) == u(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert s.next_after(u(2026, 10, 25, 0, 30)) == u(2026, 10, 26, 1, 30)  # not 02:30 CET
    # t given on the second pass of 02:45 (fold=1) is 01:45 UTC
    second = datetime(2026, 10, 25, 2, 45, fold=1, tzinfo=BERLIN)
    assert s.latest_at_or_before(second) == u(2026, 10, 25, 0, 30)
    assert s.next_after(second) == u(2026, 10, 26, 1, 30)
    hourly = cron("0 * * * *", "Europe/Berlin")
    assert hourly.next_after(u(2026, 10, 25, 0)) == u(2026, 10, 25, 2)  # 03:00 CET


def test_cron_list_range_step():
    assert cron("0,30 9 * * *").next_after(u(2026, 1, 5, 9, 10)) == u(2026, 1, 5, 9, 30)
    assert cron("0,30 9 * * *").next_after(u(2026, 1, 5, 9, 30)) == u(2026, 1, 6, 9)
    assert cron("0 9-17 * * *").next_after(u(2026, 1, 5, 17)) == u(2026, 1, 6, 9)
    assert cron("0 9-17 * * *").latest_at_or_before(u(2026, 1, 5, 8, 59)) == u(2026, 1, 4, 17)
    assert cron("*/15 * * * *").next_after(u(2026, 1, 5, 10, 7)) == u(2026, 1, 5, 10, 15)
    assert cron("0 8-18/5 * * *").next_after(u(2026, 1, 5, 13)) == u(2026, 1, 5, 18)
    assert cron("0 8-18/5 * * *").next_after(u(2026, 1, 5, 18)) == u(2026, 1, 6, 8)
    assert cron("5/20 * * * *").next_after(u(2026, 1, 5, 10, 45)) == u(2026, 1, 5, 11, 5)
    assert cron("5/20 * * * *").next_after(u(2026, 1, 5, 11, 5)) == u(2026, 1, 5, 11, 25)
    assert cron("0 0 * * MON/2").next_after(u(2026, 1, 7)) == u(2026, 1, 9)  # Mon,Wed,Fri,Sun
    assert cron("0 0 */10 * *").next_after(u(2026, 1, 21)) == u(2026, 1, 31)
    assert cron("0 0 */10 * *").next_after(u(2026, 1, 31)) == u(2026, 2, 1)
    assert cron("0 0 1,15-16 * *").next_after(u(2026, 1, 15)) == u(2026, 1, 16)


def test_cron_names_case_insensitive():
    s = cron("0 12 * jan-Mar MON-fri")
    assert s.next_after(u(2026, 3, 31, 12)) == u(2027, 1, 1, 12)
    assert s.next_after(u(2026, 1, 9, 12)) == u(2026, 1, 12, 12)  # Fri -> Mon


def test_cron_seven_is_sunday():
    for line in ("0 0 * * 7", "0 0 * * 0", "0 0 * * SUN", "0 0 * * sun"):
        assert cron(line).next_after(u(2026, 1, 5)) == u(2026, 1, 11), line
    assert cron("0 0 * * 5-7").next_after(u(2026, 1, 5)) == u(2026, 1, 9)
    assert cron("0 0 * * 5-7").next_after(u(2026, 1, 10)) == u(2026, 1, 11)


def test_cron_vixie_or_rule():
    s = cron("0 0 13 * FRI")
    assert s.next_after(u(2026, 4, 3)) == u(2026, 4, 10)  # a Friday
    assert s.next_after(u(2026, 4, 10)) == u(2026, 4, 13)  # the 13th, a Monday
    assert s.next_after(u(2026, 4, 13)) == u(2026, 4, 17)
    # a day field starting with "*" counts as unrestricted: both must match (odd Fridays)
    odd_fridays = cron("0 0 */2 * FRI")
    assert odd_fridays.next_after(u(2026, 4, 3)) == u(2026, 4, 17)


def test_cron_sparse_dates():
    leap = cron("0 0 29 2 *")
    assert leap.next_after(u(2026, 1, 1)) == u(2028, 2, 29)
    assert leap.latest_at_or_before(u(2028, 2, 28)) == u(2024, 2, 29)
    assert cron("0 0 1 6 *").latest_at_or_before(u(2026, 3, 15)) == u(2025, 6, 1)
    leap_sundays = cron("0 0 29 2 */7")  # AND: Feb 29 falling on a Sunday
    assert leap_sundays.next_after(u(2026, 1, 1)) == u(2032, 2, 29)
    assert leap_sundays.next_after(u(2032, 2, 29)) == u(2060, 2, 29)


@pytest.mark.parametrize(
    ("macro", "after", "expected"),
    [
        ("@hourly", u(2026, 1, 5, 10, 7), u(2026, 1, 5, 11)),
        ("@daily", u(2026, 1, 5, 10), u(2026, 1, 6)),
        ("@midnight", u(2026, 1, 5, 10), u(2026, 1, 6)),
        ("@weekly", u(2026, 1, 5, 10), u(2026, 1, 11)),
        ("@monthly", u(2026, 1, 5, 10), u(2026, 2, 1)),
        ("@yearly", u(2026, 1, 5, 10), u(2027, 1, 1)),
        ("@annually", u(2026, 1, 5, 10), u(2027, 1, 1)),
        ("@DAILY", u(2026, 1, 5, 10), u(2026, 1, 6)),
    ],
)
def test_cron_macros(macro, after, expected):
    assert cron(macro).next_after(after) == expected


def test_cron_ignores_the_anchor():
    s = Schedule.parse(cron="0 6 * * *", anchor=u(2030, 1, 1))
    assert s.anchor is None
    assert s.next_after(u(2026, 1, 5)) == u(2026, 1, 5, 6)


# --- invalid input ---------------------------------------------------------------------


def test_both_or_neither():
    assert errors_of(every="P1D", cron="0 6 * * *", anchor=u(2026, 1, 1)) == [
        FieldError("every", "give either every or cron, not both")]
    assert errors_of() == [FieldError("every", "give every (ISO 8601 duration) or cron")]


@pytest.mark.parametrize(
    ("period", "says"),
    [
        ("P", "ISO 8601 duration expected"),
        ("PT", "ISO 8601 duration expected"),
        ("P1DT", "ISO 8601 duration expected"),
        ("1D", "ISO 8601 duration expected"),
        ("P1.5D", "ISO 8601 duration expected"),
        ("P-1D", "ISO 8601 duration expected"),
        ("P1D2H", "ISO 8601 duration expected"),
        ("P1M1Y", "ISO 8601 duration expected"),
        ("", "ISO 8601 duration expected"),
        ("PT30S", "at least PT1M"),
        ("PT59S", "at least PT1M"),
        ("P0D", "zero"),
        ("PT0H0M0S", "zero"),
        ("P200Y", "at most P100Y"),
        (5, "a string expected"),
    ],
)
def test_invalid_every(period, says):
    [error] = errors_of(every=period, anchor=u(2026, 1, 1))
    assert error.field == "every" and says in error.message


def test_pt1m_and_pt60s_are_the_minimum():
    assert every("PT60S", u(2026, 1, 1)).next_after(u(2026, 1, 1)) == u(2026, 1, 1, 0, 1)
    assert every("PT1M", u(2026, 1, 1)).next_after(u(2026, 1, 1)) == u(2026, 1, 1, 0, 1)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("0 6 *", "5 fields expected (minute hour day-of-month month day-of-week), got 3"),
        ("", "got 0"),
        ("0 6 * * * *", "got 6"),
        ("60 * * * *", "minute: 60 out of range 0-59"),
        ("* 24 * * *", "hour: 24 out of range 0-23"),
        ("* * 0 * *", "day-of-month: 0 out of range 1-31"),
        ("* * 32 * *", "day-of-month: 32 out of range 1-31"),
        ("* * * 13 *", "month: 13 out of range 1-12"),
        ("* * * * 8", "day-of-week: 8 out of range 0-7"),
        ("* * * FOO *", "month: unknown value 'FOO'"),
        ("* * * * MON-FUNDAY", "day-of-week: unknown value 'FUNDAY'"),
        ("* * * MON *", "month: unknown value 'MON'"),
        ("*/0 * * * *", "minute: step must be at least 1"),
        ("5-1 * * * *", "minute: range '5-1' is backwards"),
        ("1--2 * * * *", "minute: cannot read '1--2'"),
        ("1,,2 * * * *", "minute: cannot read ''"),
        ("-1 * * * *", "minute: cannot read '-1'"),
        ("@reboot", "unknown macro '@reboot'"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_invalid_cron(line, says):
    [error] = errors_of(cron=line)
    assert error.field == "cron" and says in error.message, error.message


def test_cron_that_only_falls_in_dst_gaps_never_fires():
    # March 29th on a Sunday is always the last Sunday of March: Berlin skips 02:00-03:00
    [error] = errors_of(cron="30 2 29 3 */7", timezone="Europe/Berlin")
    assert error.field == "cron" and "never fires" in error.message
    assert cron("30 2 29 3 */7").next_after(u(2026, 1, 1)) == u(2026, 3, 29, 2, 30)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd", "europe berlin"])
def test_unknown_timezone(tz):
    [error] = errors_of(every="P1D", timezone=tz, anchor=u(2026, 1, 1))
    assert error == FieldError("timezone", f"unknown IANA timezone {tz!r}")


def test_errors_are_collected():
    found = errors_of(cron="0 6 *", timezone="Nowhere/City")
    assert [e.field for e in found] == ["timezone", "cron"]


def test_timezone_none_means_utc():
    s = Schedule.parse(cron="0 6 * * *", timezone=None)
    assert s.timezone == "UTC" and s.next_after(u(2026, 1, 5)) == u(2026, 1, 5, 6)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Schedule.parse(every="P1D", anchor=datetime(2026, 1, 5, 6))
    with pytest.raises(ValueError, match="anchor is required"):
        Schedule.parse(every="P1D")
    for s in (every("P1D", u(2026, 1, 5, 6)), cron("0 6 * * *")):
        with pytest.raises(ValueError, match="timezone-aware"):
            s.next_after(datetime(2026, 1, 5))
        with pytest.raises(ValueError, match="timezone-aware"):
            s.latest_at_or_before(datetime(2026, 1, 5))
