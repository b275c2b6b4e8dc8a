"""The SNAP higgs-twitter activity file (``higgs-activity_time.txt``): Twitter activity
around the Higgs boson announcement, 1-7 July 2012 (De Domenico et al., Scientific
Reports 3, 2980, 2013).

Reference: https://snap.stanford.edu/data/higgs-twitter.html

One interaction a line, space separated, no header: ``userA userB unix_ts type`` with
``type`` RT (A retweeted B: a repost), MT (A mentioned B) or RE (A replied to B). User ids
are anonymised integers, so accounts are ``higgs:<id>`` and the platform is ``higgs``:
they must never be joined with real X ids. The file carries no account data, no post
ids and no thread ids, so only interactions are produced, with id
``higgs:<A>:<type>:<B>:<unix_ts>`` (the file has no duplicate lines). Self-loops are kept
as given. A reply usually also appears as a mention with the same users and second (X
inserted the @name); the file keeps both and so does this importer, so that counts match
the published dataset.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator

from graph.errors import FieldError
from graph.model import Interaction, Kind

__all__ = ["parse"]

_KINDS = {"RT": Kind.REPOST, "MT": Kind.MENTION, "RE": Kind.REPLY}
# uint64 ids and timestamps up to the year 5138: anything longer is not this file
_MAX_USER_DIGITS = 20
_MAX_TS_DIGITS = 11


def parse(lines: Iterable[tuple[int, bytes]]) -> Iterator[Interaction | FieldError]:
    """``lines`` are ``(line index, line)`` pairs, as ``graph.ingest.formats`` frames them."""
    utc = timezone.utc
    to_datetime = datetime.fromtimestamp
    for index, raw in lines:
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            yield FieldError("line", "not ASCII text", index)
            continue
        parts = line.split()
        if len(parts) != 4:
            if parts:
                yield FieldError(
                    "line", f"expected 4 fields `userA userB unix_ts type`, got {len(parts)}", index
                )
            continue
        a, b, ts, code = parts
        kind = _KINDS.get(code)
        if kind is None:
            yield FieldError("type", f"expected RT, MT or RE, got {code!r}", index)
        elif not (a.isdigit() and len(a) <= _MAX_USER_DIGITS):
            yield FieldError("userA", f"expected an integer user id, got {a!r}", index)
        elif not (b.isdigit() and len(b) <= _MAX_USER_DIGITS):
            yield FieldError("userB", f"expected an integer user id, got {b!r}", index)
        elif not (ts.isdigit() and len(ts) <= _MAX_TS_DIGITS):
            yield FieldError("unix_ts", f"expected a Unix timestamp in seconds, got {ts!r}", index)
        else:
            # built directly, not through msgspec: every field was checked above, and this
            # is the hot loop of a 563,069-line file
            yield Interaction(
                id=f"higgs:{a}:{code}:{b}:{ts}",
                kind=kind,
                source="higgs:" + a,
                target="higgs:" + b,
                at=to_datetime(int(ts), utc),
                platform="higgs",
            )
