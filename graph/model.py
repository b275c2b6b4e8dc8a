"""castlegate's domain vocabulary: accounts, interactions, layers and graph workspaces.

These types are shared by the stores, the importers, the analysis and the service, so that
an interaction means the same thing everywhere. They carry no I/O.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timedelta, timezone

from typing import Annotated

import msgspec

__all__ = [
    "Account",
    "AccountDetail",
    "GraphInfo",
    "IngestResult",
    "Interaction",
    "Kind",
    "Layer",
    "LAYER_KINDS",
    "MAX_ID_LENGTH",
    "KindCounts",
    "empty_kind_counts",
    "epoch_ms",
    "from_epoch_ms",
]

#: Longest id accepted for graphs, accounts, interactions and posts. Platform ids are far
#: shorter (X: 19 digits, AT URIs ~100 chars); the cap keeps a hostile client from
#: filling the store with megabyte keys.
MAX_ID_LENGTH = 512

# Control characters (C0, DEL, C1) are refused in every string: they break logs, CSV
# exports and terminals, and no platform id contains them.
_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*$(?!\n)"

#: An id of a graph's account, interaction or post: 1..512 printable characters.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH, pattern=_PRINTABLE)]
#: Free text fields (object URLs, handles): up to 2048 printable characters.
Text = Annotated[str, msgspec.Meta(max_length=2048, pattern=_PRINTABLE)]
#: A timestamp: RFC 3339 with a timezone on the wire.
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
Followers = Annotated[int, msgspec.Meta(ge=0, le=10**11)]
Attributes = Annotated[
    dict[Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=_PRINTABLE)], Text],
    msgspec.Meta(max_length=64, title="Attributes"),
]


class Kind(str, enum.Enum):
    """What ``source`` did to ``target``."""

    REPLY = "reply"
    QUOTE = "quote"
    MENTION = "mention"
    REPOST = "repost"
    LIKE = "like"
    FOLLOW = "follow"


class Layer(str, enum.Enum):
    """Interaction layers are analysed apart; retweet and reply networks of the same people
    look very different (Conover et al., ICWSM 2011), so they are never silently merged."""

    CONVERSATION = "conversation"
    AMPLIFICATION = "amplification"
    ATTENTION = "attention"
    LISTENING = "listening"


LAYER_KINDS: dict[Layer, tuple[Kind, ...]] = {
    Layer.CONVERSATION: (Kind.REPLY, Kind.QUOTE),
    Layer.AMPLIFICATION: (Kind.REPOST, Kind.LIKE),
    Layer.ATTENTION: (Kind.MENTION,),
    Layer.LISTENING: (Kind.FOLLOW,),
}


class Account(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """An account in one graph. ``followers`` is the follower count the platform *claims*;
    it feeds "claimed reach" and is never trusted as a follower set."""

    id: Id
    handle: Text | None = None
    platform: Text | None = None
    followers: Followers | None = None
    attributes: Attributes | None = None


class Interaction(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One act of ``source`` on ``target`` at time ``at`` (timezone-aware, UTC).

    ``object`` is the amplified thing (post id or URL) that coordination analysis groups by;
    ``post``, ``in_reply_to`` and ``conversation`` keep threads so reciprocated
    conversation can be found.
    """

    id: Id
    kind: Kind
    source: Id
    target: Id
    at: Timestamp
    post: Id | None = None
    in_reply_to: Id | None = None
    object: Text | None = None
    conversation: Id | None = None
    platform: Text | None = None

    def digest(self) -> str:
        """A stable fingerprint of the content, so that a re-sent id can be told apart from
        a conflicting one without comparing field by field in every store."""
        parts = (
            self.id,
            self.kind.value,
            self.source,
            self.target,
            str(epoch_ms(self.at)),
            self.post or "",
            self.in_reply_to or "",
            self.object or "",
            self.conversation or "",
            self.platform or "",
        )
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


class KindCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Interactions of each kind (``Kind``), every kind named, 0 included."""

    reply: int
    quote: int
    mention: int
    repost: int
    like: int
    follow: int

    def total(self) -> int:
        return sum(msgspec.structs.astuple(self))


class GraphInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A workspace and what is in it. ``version`` changes whenever the content changes and
    never repeats for a deleted and re-created graph of the same id."""

    id: str
    description: str
    accounts: int
    interactions: KindCounts
    first_at: datetime | None
    last_at: datetime | None
    version: str
    created_at: datetime


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    accepted: int
    duplicates: int


class Deleted(msgspec.Struct, frozen=True, kw_only=True):
    #: interactions removed
    deleted: int
    #: ids asked for that the graph did not hold (already deleted, or never stored)
    missing: list[str]


class AccountDetail(msgspec.Struct, frozen=True, kw_only=True):
    """An account with its interaction counts per kind, split by direction."""

    account: Account
    outgoing: KindCounts
    incoming: KindCounts


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch; both stores keep time as integers so that time windows
    are plain range comparisons."""
    if at.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    # integer arithmetic: float timestamps round 1 ms off for some microsecond values
    return (at - _EPOCH) // _MS


def from_epoch_ms(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def empty_kind_counts() -> dict[str, int]:
    return {k.value: 0 for k in Kind}
