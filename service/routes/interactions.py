"""Ingest: POST /v1/graphs/{graph}/interactions and /imports."""

from __future__ import annotations

import io
from typing import Annotated

from anyio import to_thread
from litestar import Request, post
from litestar.params import QueryParameter

from graph.errors import FieldError, InvalidInput
from graph.ingest.formats import FORMATS, read_records
from graph.ingest.validate import check_batch_size, decode_interactions
from graph.model import IngestResult, Interaction
from service.deps import Store
from service.openapi import InteractionsOperation
from service.routes.graphs import GraphPath
from service.wire import ImportResult, body_kind


@post(
    "/v1/graphs/{graph:str}/interactions",
    operation_id="addInteractions",
    tags=["ingest"],
    status_code=200,
    operation_class=InteractionsOperation,
    summary="Add interactions (JSON array, or NDJSON with Content-Type application/x-ndjson)",
)
async def add_interactions(request: Request, store: Store, graph: GraphPath) -> IngestResult:
    """Each item: ``{"id", "kind", "source", "target", "at", "post"?, "in_reply_to"?,
    "object"?, "conversation"?, "platform"?}``; ``kind`` is one of reply, quote, mention,
    repost, like, follow, and ``source`` acts on ``target``.

    Idempotent: an id already stored with the same content counts as a duplicate. The
    batch is one transaction and is acknowledged only after it committed. Any bad item,
    or an id re-sent with different content (409), refuses the whole batch and nothing is
    written. At most 50,000 items per request.
    """
    body = await request.body()
    ndjson = body_kind(request)
    items = await to_thread.run_sync(lambda: decode_interactions(body, ndjson=ndjson))
    return await to_thread.run_sync(store.add_interactions, graph, items)


@post(
    "/v1/graphs/{graph:str}/imports",
    operation_id="importFile",
    tags=["ingest"],
    status_code=200,
    summary="Import a platform export (X API v2, Mastodon, Bluesky, SNAP higgs, castlegate NDJSON/CSV)",
)
async def import_file(
    request: Request,
    store: Store,
    graph: GraphPath,
    format: Annotated[str, QueryParameter(description="one of: " + ", ".join(FORMATS))],
) -> ImportResult:
    """The body is the file as the platform gives it (gzip allowed). It is parsed whole
    before anything is written, and its interactions (at most 50,000; use ``castlegate
    ingest --api`` for larger files, which sends batches) are stored in one transaction,
    so a bad record or a conflicting id refuses the whole file."""
    if format not in FORMATS:
        raise InvalidInput([FieldError("format", f"unknown format {format!r}; known: {', '.join(FORMATS)}")])
    body = await request.body()

    def run() -> ImportResult:
        records = list(read_records(io.BytesIO(body), format))
        interactions = [r for r in records if isinstance(r, Interaction)]
        accounts = [r for r in records if not isinstance(r, Interaction)]
        check_batch_size(len(interactions))
        result = store.add_interactions(graph, interactions)
        written = store.upsert_accounts(graph, accounts) if accounts else 0
        return ImportResult(accepted=result.accepted, duplicates=result.duplicates, accounts=written)

    return await to_thread.run_sync(run)
