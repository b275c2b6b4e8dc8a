"""A small client of castlegate's own HTTP API, shaped like the part of the GraphStore port
that importing needs, so ``castlegate ingest --api URL`` runs the same importer over HTTP."""

from __future__ import annotations

from typing import Sequence

import httpx
import msgspec

from graph.errors import FieldError, GraphExists, GraphNotFound, IngestConflict, InvalidInput, StoreUnavailable
from graph.model import Account, GraphInfo, IngestResult, Interaction

_NDJSON = {"content-type": "application/x-ndjson"}
_encoder = msgspec.json.Encoder()


def ndjson(items: Sequence[msgspec.Struct]) -> bytes:
    return b"\n".join(_encoder.encode(i) for i in items) + b"\n"


class ApiStore:
    kind = "api"

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 300.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def create_graph(self, graph: str, description: str = "") -> None:
        r = self._http.post("/v1/graphs", json={"id": graph, "description": description})
        if r.status_code == 409:
            raise GraphExists(graph)
        self._check(r, graph)

    def get_graph(self, graph: str) -> GraphInfo:
        r = self._http.get(f"/v1/graphs/{graph}")
        self._check(r, graph)
        return msgspec.convert(r.json(), GraphInfo, strict=False)

    def delete_graph(self, graph: str) -> None:
        self._check(self._http.delete(f"/v1/graphs/{graph}"), graph)

    def upsert_accounts(self, graph: str, accounts: Sequence[Account]) -> int:
        r = self._http.post(f"/v1/graphs/{graph}/accounts", content=ndjson(accounts), headers=_NDJSON)
        self._check(r, graph)
        return r.json()["written"]

    def add_interactions(self, graph: str, interactions: Sequence[Interaction]) -> IngestResult:
        r = self._http.post(f"/v1/graphs/{graph}/interactions", content=ndjson(interactions), headers=_NDJSON)
        self._check(r, graph)
        return msgspec.convert(r.json(), IngestResult)

    @staticmethod
    def _check(r: httpx.Response, graph: str) -> None:
        if r.is_success:
            return
        try:
            body = r.json()
        except ValueError:
            body = {"detail": r.text[:500]}
        errors = body.get("errors") or []
        if r.status_code in (401, 403):
            raise StoreUnavailable(f"HTTP {r.status_code} from {r.url}: {body.get('detail', '')}"
                                   " (set CASTLEGATE_API_KEY to a key with the write scope)")
        if r.status_code == 404:
            raise GraphNotFound(graph)
        if r.status_code == 409 and errors:
            raise IngestConflict(ids=[e["value"] for e in errors], indexes=[e["index"] for e in errors])
        if r.status_code in (400, 413, 422):
            raise InvalidInput(
                [FieldError(e.get("field", "body"), e.get("message", ""), e.get("index")) for e in errors]
                or [FieldError("body", body.get("detail", f"HTTP {r.status_code}"))]
            )
        raise StoreUnavailable(f"HTTP {r.status_code} from {r.url}: {body.get('detail', '')}")
