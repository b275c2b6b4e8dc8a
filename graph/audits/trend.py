"""The headline figures of an audit's history, and how they moved.

Four figures answer "am I only listening to my own castle, and is it getting better or
worse?": the effective number of communities (exp of the Shannon entropy of partners over
communities), the share of partners inside the account's own community, the share inside
castles, and the number of active reciprocated ties. The first three are reported for both
views of the diversity audit: whom the account *listens to* (follows) and whom it
*converses with* (reciprocated replies and quotes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import msgspec

from graph.audits.model import AuditRun, RunStatus

__all__ = ["ViewFigures", "TrendPoint", "Change", "Trend", "trend"]


class ViewFigures(msgspec.Struct, frozen=True, kw_only=True):
    effective_communities: float | None
    share_own_community: float | None
    share_in_castles: float | None


class TrendPoint(msgspec.Struct, frozen=True, kw_only=True):
    run: str
    slot: datetime
    finished_at: datetime | None
    graph_version: str | None
    community: int
    listens_to: ViewFigures
    converses_with: ViewFigures
    active_reciprocated_ties: int


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """``latest - reference`` per figure; ``None`` where either side has no value."""

    since_run: str
    since_slot: datetime
    listens_to: ViewFigures
    converses_with: ViewFigures
    active_reciprocated_ties: int


class Trend(msgspec.Struct, frozen=True, kw_only=True):
    #: finished runs, oldest first (failed runs carry no figures and are left out)
    points: list[TrendPoint]
    latest: TrendPoint | None
    change_since_previous: Change | None
    change_since_first: Change | None


class _View(msgspec.Struct):
    effective_communities: float | None = None
    share_own_community: float | None = None
    share_in_castles: float | None = None


class _Result(msgspec.Struct):
    """The part of a stored diversity answer the trend reads (the rest is ignored)."""

    community: int
    listens_to: _View
    converses_with: _View
    active_reciprocated_ties: int


_decode = msgspec.json.Decoder(_Result).decode


def point(run: AuditRun) -> TrendPoint | None:
    """The figures of one finished run; ``None`` for a run without a result."""
    if run.status != RunStatus.DONE or run.result is None:
        return None
    r = _decode(run.result)
    return TrendPoint(
        run=run.id, slot=run.slot, finished_at=run.finished_at, graph_version=run.graph_version,
        community=r.community, listens_to=_figures(r.listens_to), converses_with=_figures(r.converses_with),
        active_reciprocated_ties=r.active_reciprocated_ties,
    )


def trend(runs: Sequence[AuditRun]) -> Trend:
    """The series of headline figures over ``runs`` (any order) and the latest point's
    change since the one before it and since the first.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> def run(i, eff, ties):
    ...     body = ('{"community": 0, "active_reciprocated_ties": %d, "listens_to":'
    ...             ' {"effective_communities": %s}, "converses_with": {}}' % (ties, eff))
    ...     at = datetime(2026, 1, i, tzinfo=timezone.utc)
    ...     return AuditRun(id=f"r{i}", graph="g", audit="a", slot=at, trigger="schedule",
    ...                     status="done", created_at=at, result=body)
    >>> t = trend([run(3, 2.0, 9), run(1, 1.25, 4), run(2, 1.5, 6)])
    >>> [p.run for p in t.points]
    ['r1', 'r2', 'r3']
    >>> t.change_since_previous.listens_to.effective_communities, t.change_since_first.active_reciprocated_ties
    (0.5, 5)
    """
    points = sorted((p for p in map(point, runs) if p is not None), key=lambda p: (p.slot, p.run))
    if not points:
        return Trend(points=[], latest=None, change_since_previous=None, change_since_first=None)
    latest = points[-1]
    previous = _change(latest, points[-2]) if len(points) > 1 else None
    first = _change(latest, points[0]) if len(points) > 1 else None
    return Trend(points=points, latest=latest, change_since_previous=previous, change_since_first=first)


def _figures(v: _View) -> ViewFigures:
    return ViewFigures(effective_communities=v.effective_communities,
                       share_own_community=v.share_own_community, share_in_castles=v.share_in_castles)


def _minus(a: ViewFigures, b: ViewFigures) -> ViewFigures:
    def d(x, y):
        return None if x is None or y is None else x - y

    return ViewFigures(
        effective_communities=d(a.effective_communities, b.effective_communities),
        share_own_community=d(a.share_own_community, b.share_own_community),
        share_in_castles=d(a.share_in_castles, b.share_in_castles),
    )


def _change(latest: TrendPoint, ref: TrendPoint) -> Change:
    return Change(
        since_run=ref.run, since_slot=ref.slot,
        listens_to=_minus(latest.listens_to, ref.listens_to),
        converses_with=_minus(latest.converses_with, ref.converses_with),
        active_reciprocated_ties=latest.active_reciprocated_ties - ref.active_reciprocated_ties,
    )
