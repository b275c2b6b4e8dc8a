"""Ingest: POST /v1/graphs/{graph}/interactions."""

from __future__ import annotations

from anyio import to_thread
from litestar import Request, post

from graph.ingest.validate import decode_interactions
from graph.model import IngestResult
from service.deps import Store
from service.openapi import InteractionsOperation
from service.routes.graphs import GraphPath
from service.wire import body_kind


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
