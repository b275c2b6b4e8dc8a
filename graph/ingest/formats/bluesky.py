"""Bluesky: AT Protocol repository records as ``com.atproto.repo.listRecords`` returns them.

References: https://docs.bsky.app/docs/api/com-atproto-repo-list-records, lexicons
https://github.com/bluesky-social/atproto/tree/main/lexicons/app/bsky (``feed/post``,
``feed/repost``, ``feed/like``, ``graph/follow``, ``richtext/facet``, ``embed/record``),
AT URIs https://atproto.com/specs/at-uri-scheme

Accepted: one page ``{"records": [{"uri", "cid", "value"}, ...], "cursor"?}``, a JSON
array of pages, or NDJSON of pages; a top-level value without ``records`` is read as one
record. Accounts are DIDs, which are globally unique and, unlike handles, never change;
the author is the DID in the record's ``at://<did>/<collection>/<rkey>`` URI. The records
carry no profile data, so no ``Account`` is produced. Each record makes:

- ``app.bsky.feed.post``, with post = the record URI and conversation = the thread root's
  URI (the post's own for a thread root): a reply ``<uri>:reply`` to the author of
  ``reply.parent`` (in_reply_to = the parent URI); a quote ``<uri>:quote`` of the author of
  the post embedded by ``app.bsky.embed.record`` or ``app.bsky.embed.recordWithMedia``
  (object = its URI); a mention ``<uri>:mention:<did>`` per mentioned DID of the
  ``app.bsky.richtext.facet#mention`` facets. Bluesky inserts no @name in replies, so a
  mention of the account replied to was written on purpose and is kept;
- ``app.bsky.feed.repost`` / ``app.bsky.feed.like``: ``<uri>:repost`` / ``<uri>:like`` of
  the author of ``subject.uri``, object = ``subject.uri``;
- ``app.bsky.graph.follow``: ``<uri>:follow`` of the DID ``subject``.

Other collections (profiles, blocks, lists, ...) are no interactions and are skipped; so
are embeds of feeds, lists or starter packs, which are no quotes.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import msgspec

from graph.errors import FieldError
from graph.ingest.formats.native import build, field_error, join_path
from graph.model import Id, Interaction, Kind, Text, Timestamp

__all__ = ["parse"]

PLATFORM = "bluesky"
_POST = "app.bsky.feed.post"


class _StrongRef(msgspec.Struct):
    uri: Id
    cid: str | None = None


class _ReplyRef(msgspec.Struct):
    root: _StrongRef
    parent: _StrongRef


class _Feature(msgspec.Struct, rename={"type": "$type"}):
    type: str
    did: Text | None = None


class _Facet(msgspec.Struct):
    features: list[_Feature] = []


class _Post(msgspec.Struct, rename={"created_at": "createdAt"}):
    created_at: Timestamp
    reply: _ReplyRef | None = None
    facets: list[_Facet] = []
    # a union of embed kinds told apart by "$type"; only record embeds matter here
    embed: dict[str, Any] | None = None


class _Subject(msgspec.Struct, rename={"created_at": "createdAt"}):
    created_at: Timestamp
    subject: _StrongRef


class _Follow(msgspec.Struct, rename={"created_at": "createdAt"}):
    created_at: Timestamp
    subject: Text


class _Record(msgspec.Struct):
    uri: Id
    value: dict[str, Any]


class _Page(msgspec.Struct):
    records: list[dict[str, Any]]


def parse(values: Iterable[tuple[int, Any]]) -> Iterator[Interaction | FieldError]:
    for index, value in values:
        if isinstance(value, dict) and "records" in value:
            try:
                page = msgspec.convert(value, _Page)
            except msgspec.ValidationError as e:
                yield field_error(e, index)
                continue
            for i, record in enumerate(page.records):
                yield from _record(record, index, f"records[{i}]")
        else:
            yield from _record(value, index, "")


_SHAPES: dict[str, type] = {
    _POST: _Post,
    "app.bsky.feed.repost": _Subject,
    "app.bsky.feed.like": _Subject,
    "app.bsky.graph.follow": _Follow,
}

#: what a record does: (kind, id suffix, target DID or None if not a DID, the path of the
#: value that named the target, that value, further interaction fields)
_Edge = tuple[Kind, str, str | None, str, str, dict[str, Any]]


def _record(raw: Any, index: int, path: str) -> Iterator[Interaction | FieldError]:
    try:
        record = msgspec.convert(raw, _Record)
    except msgspec.ValidationError as e:
        yield field_error(e, index, path)
        return
    source = _did(record.uri)
    if source is None:
        yield _not_a_did(join_path(path, "uri"), record.uri, index)
        return
    type_ = record.value.get("$type")
    shape = _SHAPES.get(type_) if isinstance(type_, str) else None
    if shape is None:
        return
    value_path = join_path(path, "value")
    try:
        value = msgspec.convert(record.value, shape)
    except msgspec.ValidationError as e:
        yield field_error(e, index, value_path)
        return
    for kind, suffix, target, target_path, named, fields in _edges(type_, value, record.uri):
        if target is None:
            yield _not_a_did(join_path(value_path, target_path), named, index)
            continue
        yield build(
            Interaction,
            {"id": f"{record.uri}:{suffix}", "kind": kind, "source": source, "target": target,
             "at": value.created_at, "platform": PLATFORM, **fields},
            index,
            value_path,
        )


def _edges(type_: str, value: Any, uri: str) -> Iterator[_Edge]:
    if isinstance(value, _Follow):
        yield Kind.FOLLOW, "follow", _as_did(value.subject), "subject", value.subject, {}
    elif isinstance(value, _Subject):
        kind = Kind.REPOST if type_ == "app.bsky.feed.repost" else Kind.LIKE
        subject = value.subject.uri
        yield kind, kind.value, _did(subject), "subject.uri", subject, {"object": subject}
    else:
        yield from _post_edges(value, uri)


def _post_edges(post: _Post, uri: str) -> Iterator[_Edge]:
    said = {"post": uri, "conversation": post.reply.root.uri if post.reply else uri}
    if post.reply is not None:
        parent = post.reply.parent.uri
        fields = {"in_reply_to": parent, **said}
        yield Kind.REPLY, "reply", _did(parent), "reply.parent.uri", parent, fields
    quoted = _quoted_post(post.embed)
    if quoted is not None:
        path, embedded = quoted
        yield Kind.QUOTE, "quote", _did(embedded), path, embedded, {"object": embedded, **said}
    seen: set[str] = set()
    for i, facet in enumerate(post.facets):
        for j, feature in enumerate(facet.features):
            did = feature.did
            if feature.type == "app.bsky.richtext.facet#mention" and did and did not in seen:
                seen.add(did)
                yield (Kind.MENTION, f"mention:{did}", _as_did(did),
                       f"facets[{i}].features[{j}].did", did, said)


def _quoted_post(embed: dict[str, Any] | None) -> tuple[str, str] | None:
    """(path, URI) of the post a record embed quotes, if it quotes one."""
    if not embed:
        return None
    kind, inner, path = embed.get("$type"), embed.get("record"), "embed.record"
    if kind == "app.bsky.embed.recordWithMedia" and isinstance(inner, dict):
        inner, path = inner.get("record"), "embed.record.record"
    elif kind != "app.bsky.embed.record":
        return None
    uri = inner.get("uri") if isinstance(inner, dict) else None
    if not isinstance(uri, str) or _collection(uri) != _POST:
        return None
    return f"{path}.uri", uri


def _did(uri: str) -> str | None:
    """The DID authority of an ``at://`` URI; ``None`` for a handle authority, which
    names an account only until it changes handle."""
    if not uri.startswith("at://"):
        return None
    authority = uri[len("at://"):].split("/", 1)[0]
    return authority if authority.startswith("did:") else None


def _collection(uri: str) -> str | None:
    parts = uri[len("at://"):].split("/") if uri.startswith("at://") else []
    return parts[1] if len(parts) > 1 else None


def _as_did(value: str) -> str | None:
    return value if value.startswith("did:") else None


def _not_a_did(path: str, value: str, index: int) -> FieldError:
    return FieldError(path, f"expected a DID or an at://did:... URI, got {value!r}", index)
