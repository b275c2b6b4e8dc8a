"""Ingest: POST /v1/graphs/{graph}/interactions and /imports."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Annotated, Iterator

import anyio
from anyio import from_thread, to_thread
from litestar import Request, Response, delete, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.exceptions import HTTPException
from litestar.params import PathParameter, QueryParameter

from graph.errors import FieldError, IngestConflict, InvalidInput, NotFound
from graph.ingest.formats import CHUNK, FORMATS, ReadLimits, read_records
from graph.ingest.validate import LimitExceeded, decode_interactions
from graph.model import MAX_ID_LENGTH, Deleted, IngestResult
from graph.usecases.group_commit import Busy, GroupCommitter, Limits
from graph.usecases.ingest import DEFAULT_BATCH, ImportReport, ImportStopped, import_records
from service.deps import Store
from service.errors import problem
from service.openapi import InteractionsOperation, json_body, problems
from service.routes.graphs import GraphPath
from service.wire import JSON_OR_NDJSON, ImportResult, InteractionDeletion, body_kind

InteractionPath = Annotated[str, PathParameter(description="interaction id", max_length=MAX_ID_LENGTH)]

log = logging.getLogger("castlegate.imports")

# ---------------------------------------------------------------- what /imports reads

_NDJSON_TYPES = JSON_OR_NDJSON[1:]
_GZIP_TYPES = ("application/gzip", "application/octet-stream")
#: the Content-Types each import format is sent as; gzip (or unnamed bytes) for any of them
FORMAT_TYPES: dict[str, tuple[str, ...]] = {
    "ndjson": _NDJSON_TYPES,
    "csv": ("text/csv",),
    "x-v2": JSON_OR_NDJSON,
    "mastodon": JSON_OR_NDJSON,
    "bluesky": JSON_OR_NDJSON,
    "snap-higgs": ("text/plain",),
    "edgelist": ("text/plain", "text/csv"),
    "edgelist-timed": ("text/plain", "text/csv"),
    "conover": ("text/plain", "text/tab-separated-values"),
    "gml": ("text/plain", "text/vnd.gml"),
    "graphml": ("application/xml", "text/xml", "application/graphml+xml"),
    "gexf": ("application/xml", "text/xml", "application/gexf+xml"),
    "gephi-csv": ("text/csv",),
}
IMPORT_TYPES = tuple(dict.fromkeys([t for types in FORMAT_TYPES.values() for t in types] + list(_GZIP_TYPES)))

#: one top-level JSON value of an imported JSON file (an NDJSON line, an array element, a
#: whole document spanning lines): a page of an export is a few hundred KB. Decoding a
#: value costs up to ~25 times its size in memory (``[[],[],...]``: 55 MB for 2 MiB), so
#: this bounds what one request can make the server hold.
IMPORT_MAX_VALUE_BYTES = 2 << 20
#: x-v2 and mastodon resolve references across the whole file, so they keep every tweet or
#: status until its end (a tweet of 60 bytes is ~500 held: 8 MiB of them hold ~70 MB):
#: their files are read up to this many bytes (after decompression) per request, a few
#: thousand real tweets. Larger exports: ``castlegate ingest --api``, which reads the file
#: where it is and sends batches.
IMPORT_HOLDING_MAX_BYTES = 8 << 20
#: request body chunks (64 KiB each) waiting for the parser thread; when it is full the
#: body is not read on, so a fast client cannot make the server buffer its upload
BODY_QUEUE_CHUNKS = 16


@post(
    "/v1/graphs/{graph:str}/interactions",
    operation_id="addInteractions",
    tags=["ingest"],
    status_code=200,
    operation_class=InteractionsOperation,
    responses=problems({409: "an id re-sent with different content: nothing was written",
                        422: "invalid interactions: every bad item and field is named; nothing was written"}),
    summary="Add interactions (JSON array, or NDJSON with Content-Type application/x-ndjson)",
    opt={"content_types": JSON_OR_NDJSON},
)
async def add_interactions(request: Request, store: Store, graph: GraphPath) -> IngestResult:
    """Each item: ``{"id", "kind", "source", "target", "at", "post"?, "in_reply_to"?,
    "object"?, "conversation"?, "platform"?}``; ``kind`` is one of reply, quote, mention,
    repost, like, follow, and ``source`` acts on ``target``.

    Idempotent: an id already stored with the same content counts as a duplicate. The
    batch is one transaction and is acknowledged only after it committed. Any bad item,
    or an id re-sent with different content (409), refuses the whole batch and nothing is
    written. At most 50,000 items per request; JSON nested deeper than 64 levels is 400.
    """
    body = await request.body()
    ndjson = body_kind(request)
    items = await to_thread.run_sync(lambda: decode_interactions(body, ndjson=ndjson))
    committer = _committer(request, store)
    if committer is None:
        return await to_thread.run_sync(store.add_interactions, graph, items)
    try:
        future = committer.submit(graph, items)
    except Busy as e:
        return problem(503, "Busy", f"{e}: nothing was written; retry after Retry-After seconds", request=request,
                       kind="ingest-busy", headers={"Retry-After": "1"})
    answer = asyncio.wrap_future(future)
    try:
        # shielded: a wait that runs out must not cancel a request already in a transaction
        return await asyncio.wait_for(asyncio.shield(answer), _GROUP_WAIT)
    except asyncio.TimeoutError:
        if future.cancel():  # still queued: withdrawn, so nothing of it will be written
            return problem(503, "Busy", f"waited {_GROUP_WAIT:g} s for the graph's writes before it: nothing was"
                           " written; retry after Retry-After seconds", request=request, kind="ingest-busy",
                           headers={"Retry-After": "1"})
        return await answer  # in a transaction now: its outcome, bounded by the store's own timeouts


@post(
    "/v1/graphs/{graph:str}/interactions/deletions",
    operation_id="deleteInteractions",
    tags=["ingest"],
    status_code=200,
    **json_body(InteractionDeletion),
    responses=problems({422: "ids missing, empty, more than 10,000, or one not an id"}),
    summary="Delete interactions by id (at most 10,000 per request, one transaction)",
    sync_to_thread=True,
)
def delete_interactions(store: Store, graph: GraphPath, payload: NamedDependency[InteractionDeletion]) -> Deleted:
    """``{"ids": [...]}``. The graph's counts, time range and version move with them, so
    every analysis asked afterwards is of the graph without them; accounts stay. Ids the
    graph does not hold are listed in ``missing`` (deleting again is harmless)."""
    return store.delete_interactions(graph, payload.ids)


@delete(
    "/v1/graphs/{graph:str}/interactions/{interaction:str}",
    operation_id="deleteInteraction",
    tags=["ingest"],
    status_code=HTTP_204_NO_CONTENT,
    responses=problems({404: "the graph holds no interaction with this id"}),
    summary="Delete one interaction by id",
    sync_to_thread=True,
)
def delete_interaction(store: Store, graph: GraphPath, interaction: InteractionPath) -> None:
    if store.delete_interactions(graph, [interaction]).missing:
        raise NotFound("interaction", interaction)


# ---------------------------------------------------------------- group commit

#: seconds a request may wait for the writes queued before it into the same graph
_GROUP_WAIT = float(os.environ.get("CASTLEGATE_GROUP_COMMIT_WAIT", "10"))
_committer_lock = threading.Lock()


def _committer(request: Request, store) -> GroupCommitter | None:
    """The app's group committer (made on first use), or None where concurrent requests
    are written apart: ``CASTLEGATE_GROUP_COMMIT=off``, or a store that cannot write
    several requests in one transaction (sqlite, whose writes are local and cheap)."""
    state = request.app.state
    committer = state.get("group_commit")
    if committer is not None or state.get("group_commit_off"):
        return committer
    with _committer_lock:
        if "group_commit" in state or state.get("group_commit_off"):
            return state.get("group_commit")
        write = getattr(store, "add_interaction_batches", None)
        if write is None or os.environ.get("CASTLEGATE_GROUP_COMMIT", "on").lower() in ("0", "off", "false", "no"):
            state.group_commit_off = True
            return None
        env = os.environ.get
        state.group_commit = GroupCommitter(write, Limits(
            max_waiting_requests=int(env("CASTLEGATE_GROUP_COMMIT_MAX_REQUESTS", Limits.max_waiting_requests)),
            max_waiting_items=int(env("CASTLEGATE_GROUP_COMMIT_MAX_ITEMS", Limits.max_waiting_items)),
        ))
        return state.group_commit


@post(
    "/v1/graphs/{graph:str}/imports",
    operation_id="importFile",
    tags=["ingest"],
    status_code=200,
    summary="Import a platform export (X API v2, Mastodon, Bluesky, SNAP higgs, castlegate NDJSON/CSV)",
    opt={"content_types": IMPORT_TYPES},
    responses=problems({
        409: "a record's id is stored with different content: the import stopped there (the counts say what"
             " the batches before it wrote)",
        413: "CASTLEGATE_IMPORT_MAX_BYTES (after decompression), CASTLEGATE_IMPORT_MAX_LINES,"
             " CASTLEGATE_IMPORT_MAX_ITEMS, a line over 1 MiB, a JSON value over 2 MiB, 8 MiB of x-v2 or mastodon:"
             " the import stopped there (with the counts)",
        415: "or a Content-Type that is not the format's, or a Content-Encoding other than gzip",
        422: "a bad record (its line or value index and field), a compression other than gzip, or an unknown"
             " format: the import stopped there (with the counts)",
    }),
    # the body is streamed and measured here (raw and decompressed), not held whole
    request_max_body_size=None,
)
async def import_file(
    request: Request,
    store: Store,
    graph: GraphPath,
    format: Annotated[str, QueryParameter(title="ImportFormat", enum=list(FORMATS), description="the file's format: one of "
                                                                         + ", ".join(FORMATS))],
) -> ImportResult:
    """The body is the file as the platform gives it, gzip allowed (``Content-Type``: the
    format's own, ``text/csv``, ``text/plain`` for snap-higgs, JSON or NDJSON, or
    ``application/gzip`` / ``application/octet-stream``).

    It is read as it arrives and its records are written in batches of 10,000
    interactions, as ``castlegate ingest`` does: each batch's interactions are one
    transaction (its accounts a second one right after). A bad record stops the import
    (422 naming its line or value index and field); the batches before it stay, and
    re-running the fixed file adds only what is missing, since ids are derived from the
    file. Limits (413): ``CASTLEGATE_IMPORT_MAX_BYTES`` after decompression,
    ``CASTLEGATE_IMPORT_MAX_LINES``, ``CASTLEGATE_IMPORT_MAX_ITEMS``, 1 MiB a line, 2 MiB
    a JSON value, 8 MiB for x-v2 and mastodon files (which are held until their end).
    A client that goes away stops the import."""
    if format not in FORMATS:
        raise InvalidInput([FieldError("format", f"unknown format {format!r}; known: {', '.join(FORMATS)}")])
    _check_encoding(request, format)
    settings = request.app.state.settings
    max_bytes = settings.import_max_bytes
    if FORMATS[format].holds_file:
        max_bytes = min(max_bytes, IMPORT_HOLDING_MAX_BYTES)
    limits = ReadLimits(max_bytes=max_bytes, max_lines=settings.import_max_lines,
                        max_items=settings.import_max_items, max_value_bytes=IMPORT_MAX_VALUE_BYTES)
    too_large = LimitExceeded("bytes", max_bytes, f"the body is larger than {max_bytes} bytes")
    if (request.content_length or 0) > max_bytes:
        return _refused(request, format, too_large, ImportReport())
    await to_thread.run_sync(store.get_graph, graph)  # 404 before reading anything

    sender, receiver = anyio.create_memory_object_stream[bytes](BODY_QUEUE_CHUNKS)
    stop = threading.Event()
    why_stopped: list[Exception] = []  # what the pump saw: the client gone, the body too large
    progress = [ImportReport()]

    async def pump() -> None:
        """On the event loop: the body, chunk by chunk, into the bounded queue."""
        received, whole = 0, False
        gathered = bytearray()  # small pieces go on as one chunk: one hand-over per 64 KiB
        async with sender:
            try:
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > max_bytes:
                        why_stopped.append(too_large)
                        return
                    gathered += chunk
                    if len(gathered) >= CHUNK:
                        await sender.send(bytes(gathered))
                        gathered.clear()
                if gathered:
                    await sender.send(bytes(gathered))
                whole = True
            except anyio.BrokenResourceError:
                pass  # the importer finished early (a bad record, a limit): stop reading
            except Exception as e:  # Litestar's "client disconnected prematurely", or worse
                why_stopped.append(e)
            finally:
                # before the queue closes: a body not read to its end (the client gone, too
                # large, the server shutting down) must not look like a file that ended there
                if not whole:
                    stop.set()

    def body() -> Iterator[bytes]:
        """In the importer's thread: the queue's chunks, until the body ends."""
        while not stop.is_set():
            try:
                yield from_thread.run(receiver.receive)
            except anyio.EndOfStream:
                if not stop.is_set():
                    return
        raise ImportStopped("the body was not read to its end")

    def run() -> ImportReport:
        try:
            records = read_records(body(), format, limits)
            return import_records(store, graph, records, batch_size=DEFAULT_BATCH,
                                  on_batch=lambda r: progress.__setitem__(0, r), should_stop=stop.is_set)
        finally:
            from_thread.run_sync(receiver.close)

    outcome: list = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(pump)
        try:
            outcome.append(await to_thread.run_sync(run))
        except Exception as e:  # kept, not raised here: a task group would wrap it in a group
            outcome.append(e)
        finally:
            tasks.cancel_scope.cancel()

    result = outcome[0]
    if isinstance(result, Exception) and not isinstance(result, (InvalidInput, IngestConflict, ImportStopped)):
        raise result  # the store is down, the graph was deleted meanwhile...: the usual answers
    if isinstance(result, ImportReport):
        return ImportResult(accepted=result.accepted, duplicates=result.duplicates, accounts=result.accounts)
    done = progress[0]
    if isinstance(result, ImportStopped) and why_stopped:
        result = why_stopped[0]
    if isinstance(result, LimitExceeded):
        return _refused(request, format, result, done)
    if isinstance(result, InvalidInput):
        return _bad_records(request, format, result, done)
    if isinstance(result, IngestConflict):
        return problem(409, "Conflicting re-send", f"{result}: the import stopped there; {_kept(done)}",
                       request=request, kind="ingest-conflict", **_counts(done),
                       errors=[{"index": i, "field": "id", "value": ident, "message": "stored with different content"}
                               for i, ident in zip(result.indexes, result.ids)])
    # the client went away: nobody reads this answer, the log does
    log.info("import stopped: the client went away", extra={"graph": graph, "format": format, **_counts(done)})
    return problem(400, "Client went away", f"the import stopped; {_kept(done)}", request=request,
                   kind="client-disconnected", **_counts(done))


def _check_encoding(request: Request, format: str) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    allowed = FORMAT_TYPES[format] + _GZIP_TYPES
    if media and media not in allowed:
        raise HTTPException(status_code=415, detail=f"Content-Type {media!r} is not a {format} file: send "
                                                    f"{' or '.join(allowed)}")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise HTTPException(status_code=415, detail=f"Content-Encoding {encoding!r}: send the file plain or gzipped")


def _counts(done: ImportReport) -> dict[str, int]:
    return {"accepted": done.accepted, "duplicates": done.duplicates, "accounts": done.accounts,
            "batches": done.batches}


def _kept(done: ImportReport) -> str:
    if not done.batches:
        return "nothing was written"
    return (f"the {done.batches} batch(es) written before it stay ({done.accepted} new interactions, "
            f"{done.duplicates} duplicates, {done.accounts} accounts); re-running the file adds only what is missing")


def _refused(request: Request, format: str, e: LimitExceeded, done: ImportReport) -> Response:
    detail = str(e)
    if e.what == "bytes" and FORMATS[format].holds_file and e.limit == IMPORT_HOLDING_MAX_BYTES:
        detail += (f" ({format} files are held until their end, so at most {IMPORT_HOLDING_MAX_BYTES} bytes are read"
                   " per request: send larger exports with castlegate ingest --api)")
    return problem(413, "Payload too large", f"{detail}; the import stopped there: {_kept(done)}", request=request,
                   kind="import-limit", limit=e.what, **_counts(done))


def _bad_records(request: Request, format: str, e: InvalidInput, done: ImportReport) -> Response:
    lines = not FORMATS[format].document
    errors = []
    for err in e.errors:
        entry: dict = {"index": err.index} if err.index is not None else {}
        if lines and err.index is not None:
            entry["line"] = err.index + 1
        errors.append(entry | {"field": err.field, "message": err.message})
    first = next((err.index for err in e.errors if err.index is not None), None)
    where = "" if first is None else (f" at line {first + 1}" if lines else f" at value {first}")
    return problem(422, "Invalid input", f"{len(e.errors)} bad record(s); the import stopped{where}: {_kept(done)}",
                   request=request, kind="invalid-input", errors=errors, **_counts(done))
