"""msgspec Structs on the wire: what clients send and receive. Domain types stay in
``graph.model``; conversions between the two live beside the routes that need them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from graph.model import Id, Text, Timestamp


class Health(msgspec.Struct, frozen=True):
    status: str
    version: str


class StoreStatus(msgspec.Struct, frozen=True):
    kind: str
    version: str


class Ready(msgspec.Struct, frozen=True):
    status: str
    store: StoreStatus
    graphs: list[str]


# graphs
GraphId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="letters, digits, '.', '_' and '-'; it appears in URLs",
    ),
]


class GraphCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: GraphId
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class Written(msgspec.Struct, frozen=True):
    written: int


class ImportResult(msgspec.Struct, frozen=True):
    accepted: int
    duplicates: int
    #: account records written (follower counts, handles)
    accounts: int


_NDJSON = ("application/x-ndjson", "application/jsonl", "application/ndjson")


def body_kind(request: Request) -> bool:
    """True for NDJSON bodies, False for a JSON array; 415 for anything else."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media in _NDJSON:
        return True
    if media in ("application/json", ""):
        return False
    raise HTTPException(
        status_code=415,
        detail=f"Content-Type {media!r}: send application/json (an array) or application/x-ndjson",
    )


# analysis
class ReachRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to measure the reach of: accounts (their posts) and/or objects (post ids or
    URLs), optionally in a time window."""

    accounts: Annotated[list[Id], msgspec.Meta(max_length=10_000)] = []
    objects: Annotated[list[Text], msgspec.Meta(max_length=10_000)] = []
    since: Timestamp | None = None
    until: Timestamp | None = None


class JobOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    graph: str
    graph_version: str
    status: str
    stage: str | None
    progress: float
    error: str | None
    parameters: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]
