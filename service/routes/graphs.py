"""Graph workspaces and accounts: /v1/graphs[/{graph}[/accounts[/{account}]]]."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from graph.ingest.validate import decode_accounts
from graph.keys import reaches
from graph.model import AccountDetail, GraphInfo
from service.auth import caller
from service.deps import Store
from service.openapi import AccountsOperation, json_body, problems
from service.paging import After, Limit, cut
from service.wire import JSON_OR_NDJSON, AccountsPage, GraphCreate, GraphsPage, Written, body_kind

GraphPath = Annotated[str, PathParameter(description="graph id", max_length=128)]
AccountPath = Annotated[str, PathParameter(description="account id", max_length=512)]
#: graphs read at most to fill one page for a key that reaches few graphs
_SCAN_MAX = 5_000


class GraphController(Controller):
    path = "/v1/graphs"
    tags = ["graphs"]

    @post(
        "/",
        operation_id="createGraph",
        status_code=HTTP_201_CREATED,
        **json_body(GraphCreate),
        responses=problems({403: "the key's graphs do not include this id", 409: "a graph with this id exists"}),
        summary="Create a graph workspace",
        sync_to_thread=True,
    )
    def create_graph(self, request: Request, store: Store, payload: NamedDependency[GraphCreate]) -> GraphInfo:
        """Graphs keep clients' data apart: an agency analyses each client in its own
        graph. 409 when the id is taken; 403 when the key's grants do not reach the id."""
        if not reaches(caller(request), payload.id):
            raise PermissionDeniedException(detail=f"this key's graphs do not include {payload.id!r}")
        return store.create_graph(payload.id, payload.description)

    @get("/", operation_id="listGraphs", summary="The graphs this key reaches, by id (paged)", sync_to_thread=True)
    def list_graphs(self, request: Request, store: Store, limit: Limit = 100, after: After = None) -> GraphsPage:
        """``after`` is a graph id: the graphs after it."""
        key = caller(request)
        page: list[GraphInfo] = []
        cursor, scanned = after, 0
        # a key that reaches only some graphs sees only them: read on until the page is full
        while True:
            batch = store.list_graphs(after=cursor, limit=limit + 1)
            scanned += len(batch)
            page += [g for g in batch if reaches(key, g.id)]
            if len(batch) < limit + 1:
                items, nxt = cut(page, limit, lambda g: g.id)
                return GraphsPage(items=items, next=nxt)
            if len(page) > limit:
                items, _ = cut(page, limit, lambda g: g.id)
                return GraphsPage(items=items, next=items[-1].id)
            cursor = batch[-1].id
            if scanned >= _SCAN_MAX:
                # a short page, but not the end: say where to go on
                return GraphsPage(items=page, next=cursor)

    @get("/{graph:str}", operation_id="getGraph", summary="A graph with its counts and version", sync_to_thread=True)
    def get_graph(self, store: Store, graph: GraphPath) -> GraphInfo:
        """``version`` changes whenever the graph's content changes; analyses are cached
        per version."""
        return store.get_graph(graph)

    @delete(
        "/{graph:str}",
        operation_id="deleteGraph",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a graph and everything in it",
        sync_to_thread=True,
    )
    def delete_graph(self, store: Store, state: State, graph: GraphPath) -> None:
        """Its analysis jobs are cancelled (a running one stops within seconds) and its
        cached results dropped."""
        store.delete_graph(graph)
        state.analyses.graph_deleted(graph)

    @post(
        "/{graph:str}/accounts",
        operation_id="upsertAccounts",
        status_code=200,
        summary="Create or update accounts (JSON array or NDJSON)",
        operation_class=AccountsOperation,
        responses=problems({422: "invalid accounts: every bad item and field is named; nothing was written"}),
        opt={"content_types": JSON_OR_NDJSON},
    )
    async def upsert_accounts(self, request: Request, store: Store, graph: GraphPath) -> Written:
        """Fields left out keep their stored value. ``followers`` is the follower count the
        platform claims (used for claimed reach). At most 50,000 accounts per request; JSON
        nested deeper than 64 levels is 400."""
        body = await request.body()
        ndjson = body_kind(request)
        accounts = await to_thread.run_sync(lambda: decode_accounts(body, ndjson=ndjson))
        n = await to_thread.run_sync(store.upsert_accounts, graph, accounts)
        return Written(written=n)

    @get("/{graph:str}/accounts", operation_id="findAccounts", sync_to_thread=True,
         summary="Accounts by id or handle prefix, by id (paged)")
    def find_accounts(self, store: Store, graph: GraphPath, limit: Limit = 100, after: After = None,
                      q: Annotated[str, QueryParameter(
                          max_length=512, description="an id prefix, or a handle prefix (case and a leading @"
                                                      " ignored); left out: every account")] = "") -> AccountsPage:
        items, nxt = cut(store.find_accounts(graph, q, after=after, limit=limit + 1), limit, lambda a: a.id)
        return AccountsPage(items=items, next=nxt)

    @get(
        "/{graph:str}/accounts/{account:str}",
        operation_id="getAccount",
        summary="An account with its interaction counts per kind and direction",
        sync_to_thread=True,
    )
    def get_account(self, store: Store, graph: GraphPath, account: AccountPath) -> AccountDetail:
        return store.get_account(graph, account)
