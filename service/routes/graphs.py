"""Graph workspaces and accounts: /v1/graphs[/{graph}[/accounts[/{account}]]]."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from graph.ingest.validate import decode_accounts
from graph.model import AccountDetail, GraphInfo
from service.deps import Store
from service.openapi import AccountsOperation
from service.wire import GraphCreate, Written, body_kind

GraphPath = Annotated[str, PathParameter(description="graph id", max_length=128)]
AccountPath = Annotated[str, PathParameter(description="account id", max_length=512)]


class GraphController(Controller):
    path = "/v1/graphs"
    tags = ["graphs"]

    @post(
        "/",
        operation_id="createGraph",
        status_code=HTTP_201_CREATED,
        summary="Create a graph workspace",
        sync_to_thread=True,
    )
    def create_graph(self, store: Store, data: JSONBody[GraphCreate]) -> GraphInfo:
        """Graphs keep clients' data apart: an agency analyses each client in its own
        graph. 409 when the id is taken."""
        return store.create_graph(data.id, data.description)

    @get("/", operation_id="listGraphs", summary="List graphs", sync_to_thread=True)
    def list_graphs(self, store: Store) -> list[GraphInfo]:
        return store.list_graphs()

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
    )
    async def upsert_accounts(self, request: Request, store: Store, graph: GraphPath) -> Written:
        """Fields left out keep their stored value. ``followers`` is the follower count the
        platform claims (used for claimed reach). At most 50,000 accounts per request."""
        body = await request.body()
        ndjson = body_kind(request)
        accounts = await to_thread.run_sync(lambda: decode_accounts(body, ndjson=ndjson))
        n = await to_thread.run_sync(store.upsert_accounts, graph, accounts)
        return Written(written=n)

    @get(
        "/{graph:str}/accounts/{account:str}",
        operation_id="getAccount",
        summary="An account with its interaction counts per kind and direction",
        sync_to_thread=True,
    )
    def get_account(self, store: Store, graph: GraphPath, account: AccountPath) -> AccountDetail:
        return store.get_account(graph, account)
