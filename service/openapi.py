"""OpenAPI for bodies the handlers decode themselves.

Ingest handlers read the raw body (JSON array or NDJSON) so that they can name every bad
item; Litestar therefore cannot infer their request schema. We describe it from the same
msgspec types that do the decoding, so the document and the rules cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema

from graph.model import Account, Interaction

_KEYS = {
    "anyOf": "any_of",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxProperties": "max_properties",
    "additionalProperties": "additional_properties",
    "propertyNames": "property_names",
}
_MEDIA = ("application/json", "application/x-ndjson")


def _convert(node: Any, defs: dict[str, Any]) -> Any:
    """msgspec's JSON Schema -> Litestar's Schema objects, with ``$ref``s inlined (Litestar
    rebuilds components/schemas from its own registry, so a reference would dangle)."""
    if isinstance(node, list):
        return [_convert(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _convert(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    kw = {}
    for k, v in node.items():
        name = _KEYS.get(k, k)
        if name == "properties":
            kw[name] = {p: _convert(s, defs) for p, s in v.items()}
        elif name in ("items", "any_of", "additional_properties", "property_names"):
            kw[name] = _convert(v, defs)
        elif name != "$defs":
            kw[name] = v
    return Schema(**kw)


def _array_body(item: type, description: str) -> RequestBody:
    raw = msgspec.json.schema(list[item])
    schema = _convert(raw, raw.get("$defs", {}))
    return RequestBody(
        content={m: OpenAPIMediaType(schema=schema) for m in _MEDIA},
        description=description,
        required=True,
    )


@dataclass
class InteractionsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _array_body(
            Interaction,
            "A JSON array of interactions, or with Content-Type application/x-ndjson one per line.",
        )


@dataclass
class AccountsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _array_body(
            Account, "A JSON array of accounts, or with Content-Type application/x-ndjson one per line."
        )
