"""The OpenAPI document says what the server enforces, and nothing else.

Litestar generates the document from the handlers; ``document_problems`` (``create_app``
calls it once, on the document it then serves and ``castlegate openapi`` writes) makes it
exact, in place:

* **schemas**: every msgspec Struct in ``components/schemas`` is described by msgspec
  itself (``msgspec.json.schema_components``), from the very types that decode requests and
  encode answers. Litestar's own rendering loses constraints the server enforces (the
  pattern of a list's items, the bounds of an optional field, ``forbid_unknown_fields``,
  which is ``additionalProperties: false``); msgspec's cannot drift from the decoder;
* **bodies the handlers decode themselves** (ingest batches, imports) are described from
  their item types and from the Content-Types the guard lets through
  (``opt={"content_types": ...}``, ``service/auth.py``); ``json_body(T)`` gives a handler
  its JSON body decoded *strictly* as the document describes T (Litestar's own decoding is
  lenient: it takes ``"5"`` for an integer and ``0`` for a time, which the document
  refuses);
* **problem answers**: each operation lists the RFC 9457 answers it can give, derived from
  the route's metadata by the guard's own rules (a key: 401 and 429; a scope above read:
  403; a path parameter: 404; a body: 413 and 415; a store behind it: 503) plus what the
  handler declares itself with ``responses=problems({...})`` (conflicts, a 404 of a
  cursor, invalid input): no hand list of statuses per path;
* **links** from the operations that create something to those that use it;
* ``null_samples`` is bounded by the deployment's ``CASTLEGATE_MAX_NULL_SAMPLES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import msgspec
from litestar import Request
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Link, OpenAPI, OpenAPIHeader, OpenAPIMediaType, OpenAPIResponse, Operation, Parameter, Reference, RequestBody,
    Schema,
)

from graph.ingest.validate import NestedTooDeep, json_too_deep, split_error
from graph.model import Account, Interaction

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = ["AccountsOperation", "InteractionsOperation", "document_problems", "json_body", "problems", "schema_of"]

_REF = "#/components/schemas/{name}"
_NDJSON = ("application/x-ndjson", "application/jsonl", "application/ndjson")
_BINARY = ("application/gzip", "application/octet-stream")


# ----------------------------------------------------------------- msgspec -> Litestar

def _schema_keys() -> dict[str, str]:
    """JSON Schema keyword -> field of Litestar's ``Schema``."""
    from dataclasses import fields

    out = {}
    for f in fields(Schema):
        alias = f.metadata.get("alias")
        if alias:
            out[alias] = f.name
        else:
            parts = f.name.split("_")
            out[parts[0] + "".join(p.title() for p in parts[1:])] = f.name
    return out


_KEYS = _schema_keys()
_SUBSCHEMA = {"items", "additional_properties", "property_names", "contains", "schema_not", "schema_if", "then",
              "schema_else", "unevaluated_items", "unevaluated_properties", "content_schema"}
_SUBSCHEMAS = {"any_of", "all_of", "one_of", "prefix_items"}
_SCHEMA_MAPS = {"properties", "pattern_properties", "dependent_schemas"}


def schema_of(node: Any) -> Schema | Reference | bool:
    """A JSON Schema (as msgspec writes it) as Litestar's spec objects; ``$ref``s point
    into ``components/schemas``. An unknown keyword is an error, not silently dropped."""
    if isinstance(node, bool):
        return node
    if "$ref" in node:
        return Reference(ref=node["$ref"])
    kw: dict[str, Any] = {}
    for key, value in node.items():
        name = _KEYS.get(key)
        if name is None:
            raise ValueError(f"JSON Schema keyword {key!r} has no place in Litestar's Schema")
        if name in _SUBSCHEMA:
            value = schema_of(value)
        elif name in _SUBSCHEMAS:
            value = [schema_of(v) for v in value]
        elif name in _SCHEMA_MAPS:
            value = {k: schema_of(v) for k, v in value.items()}
        kw[name] = value
    return Schema(**kw)


def _any_json(t: type) -> dict:
    if t is object:  # ``dict[str, object]``: a manifest's parameters, any JSON value
        return {"description": "any JSON value"}
    raise NotImplementedError


def _msgspec_components(types: list[type]) -> dict[str, Schema | Reference | bool]:
    _, components = msgspec.json.schema_components(types, schema_hook=_any_json, ref_template=_REF)
    named: dict[str, dict] = dict(components)
    for name, s in components.items():
        named[name] = {**_hoist({k: v for k, v in s.items() if k != "title"}, named), "title": s["title"]}
    return {name: schema_of(s) for name, s in named.items()}


# ----------------------------------------------------------------- named types

#: keywords that say how a named type is used (a field's default), kept where it is used
_USE_KEYS = ("default", "description", "examples")
#: keywords whose value is a schema, or a list of schemas
_SUB_KEYS = frozenset({"items", "additionalProperties", "propertyNames", "contains", "not", "anyOf", "allOf",
                       "oneOf", "prefixItems"})
#: keywords whose value maps names to schemas
_SUB_MAPS = frozenset({"properties", "patternProperties"})


def _hoist(node: Any, named: dict[str, dict]) -> Any:
    """``node`` (a JSON Schema as msgspec writes it) with every schema nested in it that has
    a ``title`` moved to the component of that name (``named``) and referred to where it
    was. A type is named in the code, ``Annotated[T, msgspec.Meta(title="Engine")]`` (or
    a query parameter's ``title=``), so that a client generated from the document calls
    it ``Engine`` rather than after the field or the operation it was first met in."""
    if isinstance(node, list):
        return [_hoist(v, named) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _SUB_MAPS:
            out[key] = {name: _hoist(v, named) for name, v in value.items()}
        elif key in _SUB_KEYS:
            out[key] = _hoist(value, named)
        else:
            out[key] = value
    title = out.pop("title", None)
    if title is None:
        return out
    use = {k: out.pop(k) for k in _USE_KEYS if k in out}
    _name(title, out, named)
    ref = {"$ref": _REF.format(name=title)}
    return {"allOf": [ref], **use} if use else ref


def _name(title: str, schema: dict, named: dict[str, dict]) -> None:
    """Files ``schema`` as the component ``title``; one already there must say the same
    (an enum: the same values, in any order, as ``Kind``'s do beside a kind's Literal)."""
    have = named.get(title)
    if have is None:
        named[title] = {**schema, "title": title}
        return
    same = {k: v for k, v in have.items() if k not in ("title", "description")} == schema
    if not same and "enum" in have and "enum" in schema:
        same = set(have["enum"]) == set(schema["enum"]) and schema.get("type", "string") == have.get("type", "string")
    if not same:
        raise TypeError(f"two different schemas are named {title!r}: {have} and {schema}")


def _project_structs(names) -> list[type]:
    """The msgspec Structs of castlegate's own modules that Litestar made the components
    ``names`` of (both name a Struct's component after the class)."""
    names = set(names)
    found: dict[str, list[type]] = {}
    stack = [msgspec.Struct]
    while stack:
        for cls in stack.pop().__subclasses__():
            stack.append(cls)
            if cls.__name__ in names and cls.__module__.partition(".")[0] in ("graph", "service"):
                if cls not in found.setdefault(cls.__name__, []):
                    found[cls.__name__].append(cls)
    twice = {n: c for n, c in found.items() if len(c) > 1}
    if twice:
        raise TypeError(f"two Structs share a name, so their schemas would too: {twice}")
    return [c[0] for c in found.values()]


# ----------------------------------------------------------------- request bodies

def _array_body(item: type, description: str, media_types: tuple[str, ...]) -> RequestBody:
    array = Schema(type="array", items=Reference(ref=_REF.format(name=item.__name__)))
    return RequestBody(content={m: OpenAPIMediaType(schema=array) for m in media_types}, description=description,
                       required=True)


#: the item types of the bodies the handlers decode themselves: their schemas are added
_BODY_ITEMS: list[type] = [Interaction, Account]


@dataclass
class InteractionsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _array_body(
            Interaction,
            "A JSON array of interactions, or with an NDJSON Content-Type (application/x-ndjson,"
            " application/jsonl, application/ndjson) one per line.",
            ("application/json", *_NDJSON),
        )


@dataclass
class AccountsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _array_body(
            Account,
            "A JSON array of accounts, or with an NDJSON Content-Type (application/x-ndjson,"
            " application/jsonl, application/ndjson) one per line.",
            ("application/json", *_NDJSON),
        )


def _raw_body(content_types: tuple[str, ...]) -> RequestBody:
    """A body read as it comes (a file): any bytes of the route's Content-Types."""
    content = {}
    for media in content_types:
        if media in _BINARY:
            schema = Schema(type="string", format="binary", description="the file, gzipped or not")
        elif media == "application/json":
            schema = Schema(description="the export: one JSON document, or an array of them")
        else:
            schema = Schema(type="string", description="the file's text")
        content[media] = OpenAPIMediaType(schema=schema)
    # an empty body is an empty file: nothing to import (line formats), or 422 (JSON ones)
    return RequestBody(content=content, required=False,
                       description="the file as its platform gives it; gzip allowed (magic bytes or Content-Encoding)")


def json_body(t: type) -> dict[str, Any]:
    """The route keywords for a JSON body of type ``t``, decoded as the document describes
    ``t``'s schema, and described so. The handler takes it as its ``payload`` argument
    (``data`` and ``body`` are the framework's own)::

        @post("/", **json_body(GraphCreate))
        def create_graph(self, payload: GraphCreate) -> ...

    Strict, as JSON Schema reads the document: ``"5"`` is no integer and ``0`` no time
    (Litestar's own decoding takes both), while ``5.0`` is the integer 5 (JSON Schema's
    integers are the numbers without a fraction, however written). A body that does not
    decode is 400 naming the field, like the framework's own; one nested deeper than 64
    levels 400; one whose ``__post_init__`` refuses it 422 (``InvalidInput``)."""

    async def decode(request: Request) -> Any:
        raw = await request.body()  # the route's request_max_body_size applies (413)
        if json_too_deep(raw):
            raise NestedTooDeep()
        try:
            return msgspec.convert(_integral(msgspec.json.decode(raw)), t)
        except msgspec.DecodeError as e:  # ValidationError is a DecodeError too
            field, message = split_error(str(e))
            if not isinstance(e, msgspec.ValidationError):
                field, message = "body", f"malformed JSON: {e}"
            raise ValidationException(f"Validation failed for {request.method} {request.url.path}",
                                      extra=[{"key": field or "body", "source": "body", "message": message}]) from None

    @dataclass
    class _Body(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=Reference(ref=_REF.format(name=t.__name__)))},
                required=True)

    if t not in _BODY_ITEMS:
        _BODY_ITEMS.append(t)
    return {"dependencies": {"payload": Provide(decode)}, "operation_class": _Body}


def _integral(value: Any) -> Any:
    """JSON numbers without a fraction as ints (``5.0`` -> ``5``): what JSON Schema calls
    an integer, msgspec takes as one. Nesting is bounded (``json_too_deep``) beforehand."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


# ----------------------------------------------------------------- route metadata

@dataclass(frozen=True)
class _Route:
    #: the scope the guard asks of the key; None: the route answers without a key
    scope: str | None
    #: the Content-Types the guard lets through on POST, PUT and PATCH
    content_types: tuple[str, ...]
    #: the handler reads the raw body itself (no ``data`` or ``payload`` argument)
    raw_body: bool
    #: the handler's parameters (Litestar's FieldDefinitions), by name
    fields: Mapping[str, Any]


def _routes() -> dict[str, _Route]:
    """Operation id -> what the guard (``service.auth.guard``) asks of its requests, read
    from the handlers the app registers (``service.app.ROUTES``), by the guard's rules."""
    from litestar import Controller
    from litestar.handlers import HTTPRouteHandler

    from service.app import ROUTES  # create_app calls us: service.app is loaded by then
    from service.auth import _READ_METHODS, PUBLIC_PATHS

    out: dict[str, _Route] = {}
    for entry in ROUTES:
        if isinstance(entry, type) and issubclass(entry, Controller):
            opt = vars(entry).get("opt")  # unset on the class: a slot, not a dict
            owner, prefix = dict(opt if isinstance(opt, Mapping) else {}), entry.path
            handlers = [h for h in vars(entry).values() if isinstance(h, HTTPRouteHandler)]
        else:
            owner, prefix, handlers = {}, "", [entry]
        for h in handlers:
            opt = {**owner, **(h.opt or {})}
            paths = {(prefix.rstrip("/") + "/" + p.lstrip("/")).rstrip("/") or "/" for p in h.paths}
            public = bool(opt.get("public")) or bool(paths & set(PUBLIC_PATHS))
            for method in h.http_methods:
                scope = None if public else (opt.get("scope") or ("read" if method in _READ_METHODS else "write"))
                key = h.operation_id if isinstance(h.operation_id, str) else None
                if key:
                    fields = h.parsed_fn_signature.parameters
                    out[key] = _Route(scope, tuple(opt.get("content_types", ("application/json",))),
                                      not {"data", "payload"} & set(fields), fields)
    return out


# ----------------------------------------------------------------- problem answers

PROBLEM_MEDIA = "application/problem+json"
_PROBLEM_ERROR = Schema(
    type="object",
    required=["field", "message"],
    description="one bad field of a request",
    properties={
        "field": Schema(type="string", description="dotted path of the field, e.g. webhook.url"),
        "index": Schema(type="integer", description="0-based position of the item (or line) in the body"),
        "line": Schema(type="integer", description="imports of line formats: the 1-based line"),
        "source": Schema(type="string", description="query, path, header or body"),
        "value": Schema(type="string", description="a conflicting id"),
        "message": Schema(type="string"),
    },
)
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
            description="for invalid input: every bad field (and, in batches and files, the item's index)",
            items=Reference(ref=_REF.format(name="ProblemError")),
        ),
        "job": Schema(type="string", description="the failed or cancelled analysis job"),
        "limit": Schema(type="string", description="imports: the limit that stopped it (bytes, lines, items, ...)"),
        "accepted": Schema(type="integer", description="imports: interactions written before it stopped"),
        "duplicates": Schema(type="integer", description="imports: duplicates counted before it stopped"),
        "accounts": Schema(type="integer", description="imports: account records written before it stopped"),
        "batches": Schema(type="integer", description="imports: batches written before it stopped"),
    },
)


def problems(described: Mapping[int, str]) -> dict[int, ResponseSpec]:
    """``responses=`` of a handler: the problem answers only it can give, by status, each
    with why. ``document_problems`` gives them the problem+json body."""
    return {status: ResponseSpec(data_container=None, description=why) for status, why in described.items()}


def _header(description: str, schema: Schema, required: bool = True) -> OpenAPIHeader:
    return OpenAPIHeader(schema=schema, description=description, required=required)


_SECONDS = Schema(type="integer", minimum=0)
_RETRY_AFTER = _header("seconds to wait before asking again", _SECONDS)
_HEADERS = {
    "401": {"WWW-Authenticate": _header("Bearer: send an API key", Schema(type="string"))},
    "429": {"Retry-After": _RETRY_AFTER},
    "503": {"Retry-After": _RETRY_AFTER},
}


def _generic(path: str, method: str, op: Operation, route: _Route | None) -> dict[str, str]:
    """The problem answers the guard and the framework give this route, by status."""
    out = {"400": "malformed request: a parameter of the wrong type or out of its bounds, malformed JSON,"
                  " JSON nested deeper than 64 levels, or a Host header that does not name the service"}
    keyed = route is None or route.scope is not None
    # a key that is sent is checked, on every route: also where none is needed
    out["401"] = ("no API key, or a malformed, unknown or revoked one" if keyed else
                  "a malformed, unknown or revoked API key was sent (the route needs none)")
    if keyed:
        out["429"] = "more than CASTLEGATE_RATE_LIMIT requests a minute with this key"
        if route is not None and route.scope != "read":
            out["403"] = f"the key has no {route.scope!r} scope"
    names = re.findall(r"{(\w+)}", path)
    if names:
        what = ", ".join(names)
        out["404"] = (f"no such {what}" + (" (a graph the key does not reach is not found either)"
                                           if "graph" in names else ""))
    if op.request_body is not None:
        out["413"] = "the body is larger than the route takes (CASTLEGATE_MAX_BODY_BYTES; imports: their own limits)"
    if keyed and method.upper() in ("POST", "PUT", "PATCH"):
        types = route.content_types if route is not None else ("application/json",)
        out["415"] = f"a body of another Content-Type than {', '.join(types)}"
    if path != "/health":  # answers as long as the process does
        out["503"] = "a store does not answer; retry after Retry-After seconds"
    return out


def _operations(item) -> Iterator[tuple[str, Operation]]:
    for method in ("get", "put", "post", "patch", "delete"):
        op = getattr(item, method)
        if op is not None:
            yield method, op


# ----------------------------------------------------------------- links

_GRAPH = {"graph": "$response.body#/id"}
_AUDIT = {"graph": "$request.path.graph", "audit": "$response.body#/id"}
_JOB = {"job": "$response.body#/id"}
_JOB_LINKS = {"getAnalysis": _JOB, "getAnalysisResult": _JOB, "cancelAnalysis": _JOB}
#: (operation, status) -> {operation it leads to: its parameters, as runtime expressions}
_LINKS: dict[tuple[str, str], dict[str, dict[str, str]]] = {
    ("createGraph", "201"): {op: _GRAPH for op in (
        "getGraph", "deleteGraph", "addInteractions", "upsertAccounts", "importFile", "listAudits", "createAudit",
        "startAnalysis", "communities", "gatekeepers", "polarization")},
    ("createAudit", "201"): {op: _AUDIT for op in (
        "getAudit", "updateAudit", "deleteAudit", "runAudit", "listAuditRuns", "auditTrend", "listAuditDeliveries")},
    ("runAudit", "202"): {"getAuditRun": {"graph": "$request.path.graph", "audit": "$request.path.audit",
                                          "run": "$response.body#/id"}},
    ("startAnalysis", "202"): _JOB_LINKS,
    ("createKey", "201"): {"getKey": {"key": "$response.body#/id"}, "revokeKey": {"key": "$response.body#/id"}},
}
#: every analysis answer that can come back as a job (202) leads to that job
_JOB_ANSWER = "JobOut"


def _links(op: Operation, status: str, response: OpenAPIResponse) -> None:
    targets = dict(_LINKS.get((op.operation_id, status), {}))
    if status == "202" and _refers_to(response, _JOB_ANSWER):
        targets |= _JOB_LINKS
    if targets:
        response.links = {name: Link(operation_id=name, parameters=dict(params)) for name, params in targets.items()}


def _refers_to(response: OpenAPIResponse, name: str) -> bool:
    return any(isinstance(m.schema, Reference) and m.schema.ref == _REF.format(name=name)
               for m in (response.content or {}).values())


# ----------------------------------------------------------------- the whole document

def document_problems(doc: OpenAPI, settings: "Settings | None" = None) -> None:
    """Makes ``doc`` say exactly what the server enforces (see the module docstring), in
    place. ``settings``: the deployment's (default: the defaults)."""
    from service.settings import Settings

    settings = settings or Settings()
    wanted = _project_structs(doc.components.schemas or {}) + [t for t in _BODY_ITEMS]
    doc.components.schemas = {**(doc.components.schemas or {}), **_msgspec_components(wanted),
                              "Problem": _PROBLEM, "ProblemError": _PROBLEM_ERROR}
    problem = {PROBLEM_MEDIA: OpenAPIMediaType(schema=Reference(ref=_REF.format(name="Problem")))}
    routes = _routes()
    for path, item in (doc.paths or {}).items():
        for method, op in _operations(item):
            route = routes.get(op.operation_id or "")
            if route is not None and route.raw_body and op.request_body is None and route.scope is not None \
                    and method in ("post", "put", "patch") and route.content_types != ("application/json",):
                op.request_body = _raw_body(route.content_types)
            for p in op.parameters or []:
                if route is not None and isinstance(p, Parameter) and p.name in route.fields:
                    p.schema = _parameter_schema(p.schema, route.fields[p.name].kwarg_definition)
                if isinstance(p, Parameter) and isinstance(p.schema, Schema) and p.schema.title:
                    p.schema = _named_parameter(p.schema, doc.components.schemas)
            _bound_null_samples(op, settings)
            responses = dict(op.responses or {})
            for status, why in _generic(path, method, op, route).items():
                own = responses.get(status)
                if own is None:
                    responses[status] = OpenAPIResponse(description=why)
                elif own.content is None:  # declared by the handler with problems(): both reasons
                    own.description = f"{why}; {own.description}"
                else:  # Litestar's own 400 (its validation error body): ours instead
                    responses[status] = OpenAPIResponse(description=why)
            for status, response in responses.items():
                if int(status) >= 400:
                    response.content = dict(problem)
                    if status in _HEADERS:
                        response.headers = {**(response.headers or {}), **_HEADERS[status]}
                elif status == "202":
                    response.headers = {"Location": _header("the job (or run) to follow", Schema(type="string")),
                                        **({"Retry-After": _RETRY_AFTER} if _refers_to(response, _JOB_ANSWER)
                                           else {}), **(response.headers or {})}
                _links(op, status, response)
            op.responses = dict(sorted(responses.items()))


#: a parameter's bounds and constraints (Litestar's KwargDefinition) -> JSON Schema
_CONSTRAINTS = {"gt": "exclusive_minimum", "ge": "minimum", "lt": "exclusive_maximum", "le": "maximum",
                "multiple_of": "multiple_of", "min_length": "min_length", "max_length": "max_length",
                "pattern": "pattern", "enum": "enum", "format": "format"}


def _parameter_schema(schema: Schema | Reference | None, kwarg: Any) -> Schema | Reference | None:
    """A query or path parameter is a value or absent, never null: Litestar renders an
    optional one as ``oneOf: [T, null]`` with its bounds beside the ``oneOf`` (and drops
    a bound of 0). Here it is T with every bound its declaration gives."""
    if not isinstance(schema, Schema):
        return schema
    if schema.one_of:
        kept = [s for s in schema.one_of if not (isinstance(s, Schema) and s.type == "null")]
        base = kept[0] if len(kept) == 1 and isinstance(kept[0], Schema) else Schema(one_of=kept)
        for f in dataclass_fields(Schema):
            if f.name != "one_of" and getattr(schema, f.name) is not None and getattr(base, f.name) is None:
                setattr(base, f.name, getattr(schema, f.name))
        schema = base
    if isinstance(schema.type, (list, tuple)):  # a Literal or'ed with None
        types = [t for t in schema.type if t != "null"]
        schema.type = types[0] if len(types) == 1 else types
    if schema.enum is not None:
        schema.enum = [v for v in schema.enum if v is not None]
    for attr, key in _CONSTRAINTS.items():
        value = getattr(kwarg, attr, None)
        if value is not None:
            setattr(schema, key, list(value) if attr == "enum" else value)
    extra = getattr(kwarg, "schema_extra", None) or {}
    for key, value in extra.items():
        setattr(schema, _KEYS.get(key, key), value)
    return schema


def _named_parameter(schema: Schema, components: dict) -> Schema | Reference:
    """A parameter whose type is named (``QueryParameter(title=...)``) refers to that
    component (made here when no body or answer made it first)."""
    raw = schema.to_schema()
    named = {name: s.to_schema() if isinstance(s, Schema) else s for name, s in components.items()
             if isinstance(s, Schema)}
    ref = _hoist(raw, named)
    title = raw["title"]
    if title not in components:
        components[title] = schema_of(named[title])
    return schema_of(ref)


def _bound_null_samples(op: Operation, settings: "Settings") -> None:
    """``null_samples`` is at most the deployment's CASTLEGATE_MAX_NULL_SAMPLES (and never
    more than the parameter's own bound)."""
    for p in op.parameters or []:
        if getattr(p, "name", None) == "null_samples" and isinstance(p.schema, Schema):
            cap = p.schema.maximum
            p.schema.maximum = settings.max_null_samples if cap is None else min(cap, settings.max_null_samples)
