"""OpenAPI for bodies the handlers decode themselves.

Ingest handlers read the raw body (JSON array or NDJSON) so that they can name every bad
item; Litestar therefore cannot infer their request schema. We describe it from the same
msgspec types that do the decoding, so the document and the rules cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody, Reference, Schema

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


# Every error leaves as RFC 9457 problem JSON (service/errors.py); Litestar documents its own
# 400 body instead. These are the statuses a client should be ready for, per operation.
_PROBLEM = Schema(
    type="object",
    required=["type", "title", "status"],
    description="RFC 9457 problem details",
    properties={
        "type": Schema(type="string", description="a URI naming the kind of problem"),
        "title": Schema(type="string"),
        "status": Schema(type="integer"),
        "detail": Schema(type="string"),
        "instance": Schema(type="string", description="the request path"),
        "errors": Schema(
            type="array",
            description="for invalid input: every bad field (and, in batches, the item's index)",
            items=Schema(type="object", required=["field", "message"], properties={
                "field": Schema(type="string", description="dotted path of the field, e.g. webhook.url"),
                "index": Schema(type="integer"),
                "source": Schema(type="string", description="query, path, header or body"),
                "message": Schema(type="string"),
            }),
        ),
    },
)
_STATUSES = {
    "400": "malformed request (bad JSON, a query parameter of the wrong type)",
    "404": "the graph, account, audit, run or job does not exist",
    "422": "invalid input: every bad field is named; nothing was written",
    "503": "the store does not answer; retry after Retry-After seconds",
}


def document_problems(doc: OpenAPI) -> None:
    """Describes the problem+json answers on every operation (in place)."""
    doc.components.schemas["Problem"] = _PROBLEM
    ref = Reference(ref="#/components/schemas/Problem")
    for path, item in (doc.paths or {}).items():
        if path == "/health":  # answers as long as the process does
            continue
        for op in (item.get, item.put, item.post, item.patch, item.delete):
            if op is None:
                continue
            op.responses = dict(op.responses or {})
            for status, description in _STATUSES.items():
                if status == "404" and "{" not in path:
                    continue
                if status in ("400", "422") and not (op.parameters or op.request_body or "{" in path):
                    continue
                op.responses[status] = OpenAPIResponse(
                    description=description,
                    content={"application/problem+json": OpenAPIMediaType(schema=ref)},
                )
