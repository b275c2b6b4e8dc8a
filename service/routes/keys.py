"""API keys: /v1/keys[/{key}] (admin keys only)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.status_codes import HTTP_201_CREATED

from graph.keys import ApiKey, new_key
from service.deps import Store
from service.openapi import json_body
from service.wire import KeyCreate, KeyCreated, KeyOut

KeyPath = Annotated[str, PathParameter(description="key id (the part after cgk_)", max_length=64)]


def key_out(k: ApiKey) -> KeyOut:
    return KeyOut(id=k.id, name=k.name, scopes=k.scopes, graphs=k.graphs, created_at=k.created_at,
                  revoked_at=k.revoked_at)


class KeyController(Controller):
    path = "/v1/keys"
    tags = ["keys"]
    opt = {"scope": "admin"}

    @post("/", operation_id="createKey", status_code=HTTP_201_CREATED, sync_to_thread=True, **json_body(KeyCreate),
          response_headers=[ResponseHeader(name="Location", documentation_only=True, required=True,
                                           description="the new key")],
          summary="Make an API key; its token is in this answer only")
    def create(self, state: State, store: Store, payload: NamedDependency[KeyCreate]) -> Response[KeyCreated]:
        """``scopes``: read (GET), write (add, change and delete data; audits; cancel jobs),
        admin (keys, and every graph). ``graphs``: the graph ids the key reaches, prefixes
        ending in ``*``, or ``*``. The token is shown once and stored only as a keyed hash."""
        key, token = new_key(payload.name, payload.scopes, payload.graphs, server_key=state.api_keys.server_key)
        store.create_key(key)
        body = KeyCreated(**msgspec.structs.asdict(key_out(key)), token=token)
        return Response(body, status_code=HTTP_201_CREATED, headers={"Location": f"/v1/keys/{key.id}"})

    @get("/", operation_id="listKeys", sync_to_thread=True, summary="Every key, revoked ones included (never a token)")
    def list_keys(self, store: Store) -> list[KeyOut]:
        return [key_out(k) for k in store.list_keys()]

    @get("/{key:str}", operation_id="getKey", sync_to_thread=True, summary="One key")
    def get_key(self, store: Store, key: KeyPath) -> KeyOut:
        return key_out(store.get_key(key))

    @delete("/{key:str}", operation_id="revokeKey", status_code=200, sync_to_thread=True,
            summary="Revoke a key: it answers 401 from now on (other replicas within seconds)")
    def revoke(self, state: State, store: Store, key: KeyPath) -> KeyOut:
        revoked = store.revoke_key(key, datetime.now(timezone.utc))
        state.api_keys.forget(key)
        return key_out(revoked)
