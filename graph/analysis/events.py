"""The raw interaction event the event-level analyses (pods, reach, example exchanges) read.

The store hands these over as plain tuples; naming the fields keeps every analysis reading
them the same way.

Example
-------
>>> e = Event("i1", "repost", "alice", "bob", 1_700_000_000_000, "post-42")
>>> e.kind, e.at, e.object
('repost', 1700000000000, 'post-42')
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Event"]


class Event(NamedTuple):
    """``source`` did ``kind`` to ``target`` at ``at`` (epoch milliseconds); ``object`` is
    the post (id or URL) the interaction is about, when there is one (the reposted post,
    the post replied to), else ``None``."""

    id: str
    kind: str
    source: str
    target: str
    at: int
    object: str | None
