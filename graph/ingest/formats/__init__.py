"""Importers: the files users hold, read as castlegate items (``Account``, ``Interaction``).

``read_records(source, fmt)`` opens a file (or takes a binary stream), gunzips it when
it starts with gzip's magic bytes (so ``.gz`` files are read transparently), frames it,
and streams the items of format ``fmt``, one of ``FORMATS``:

- line formats (``ndjson``, ``csv``, ``snap-higgs``) are streamed line by line, so a
  500 MB file is never held whole;
- document formats (``x-v2``, ``mastodon``, ``bluesky``) are JSON documents, read whole:
  one JSON value, a JSON array of values, or NDJSON (one value a line). Their parser
  receives the file's top-level values with their positions.

Ids are deterministic, so re-importing a file yields identical items (the store counts
them as duplicates). Account ids are the platform's own account identifier, qualified
where it is not globally unique: ``x:<user id>``, ``higgs:<user id>``, Mastodon
``user@host``, Bluesky DIDs. Interaction ids are ``<post>:<kind>`` (``:mention:<account>``
for mentions), the post being ``x:<tweet id>``, ``mastodon:<status uri>`` or the record's
``at://`` URI; each module documents its own.

Errors: each bad record is a ``FieldError(field, message, index)``:

- line formats: ``index`` is the 0-based line index (line number - 1, blank lines and the
  CSV header counted), as ``graph.ingest.validate`` numbers NDJSON lines;
- document formats: ``index`` is the position of the top-level value (array element, or
  NDJSON line index; a single JSON object is value 0) and ``field`` the path inside it,
  e.g. ``data[3].created_at``.

Once a bad record is met nothing more is yielded: the rest of the file is read to list up
to ``MAX_ERRORS`` errors, then ``InvalidInput`` is raised. Items before the first bad
record have been yielded by then; a caller that wants all-or-nothing reads the whole
iterator before storing anything.
"""

from __future__ import annotations

import gzip
import io
import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import msgspec

from graph.errors import FieldError, InvalidInput
from graph.ingest.formats import bluesky, mastodon, native, snap, x_v2
from graph.ingest.validate import MAX_ERRORS
from graph.model import Account, Interaction

__all__ = ["FORMATS", "FormatSpec", "read_records"]

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FormatSpec:
    """One importable format.

    ``parse`` yields items and a ``FieldError`` per bad record. A line format's parser is
    called with the (decompressed) binary stream; a document format's (``document=True``)
    with the ``(index, value)`` pairs of the file's top-level JSON values.
    """

    description: str
    parse: Callable[[Any], Iterator[Account | Interaction | FieldError]]
    document: bool = False


FORMATS: dict[str, FormatSpec] = {
    "ndjson": FormatSpec(
        'castlegate interactions, one JSON object a line; "type": "account" marks an account',
        native.parse_ndjson,
    ),
    "csv": FormatSpec(
        "castlegate interactions as CSV, header row of interaction field names",
        native.parse_csv,
    ),
    "x-v2": FormatSpec(
        "X API v2 tweet responses (data + includes), as JSON, a JSON array or NDJSON of pages",
        x_v2.parse,
        document=True,
    ),
    "mastodon": FormatSpec(
        'Mastodon REST API statuses (JSON array or NDJSON), plus {"follows": [...]} objects',
        mastodon.parse,
        document=True,
    ),
    "bluesky": FormatSpec(
        "AT Protocol listRecords pages of app.bsky posts, reposts, likes and follows",
        bluesky.parse,
        document=True,
    ),
    "snap-higgs": FormatSpec(
        "SNAP higgs-twitter activity lines: userA userB unix_ts RT|MT|RE",
        snap.parse,
    ),
}


def read_records(source: Path | str | BinaryIO, fmt: str) -> Iterator[Account | Interaction]:
    """Streams the accounts and interactions of ``source`` in format ``fmt``.

    ``source`` is a path, or a binary stream the caller owns and closes (the CLI passes one
    that reports progress, the import route the request body). Raises ``ValueError`` at
    once for an unknown format, and ``InvalidInput`` while iterating when the file holds
    bad records (see the module docstring).
    """
    spec = FORMATS.get(fmt)
    if spec is None:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return _read(source, spec)


def _read(source: Path | str | BinaryIO, spec: FormatSpec) -> Iterator[Account | Interaction]:
    with _opened(source) as stream:
        if spec.document:
            values, framing = _json_values(stream.read())
            parsed = chain(framing, spec.parse(values))
        else:
            parsed = spec.parse(stream)
        yield from _until_errors(parsed)


@contextmanager
def _opened(source: Path | str | BinaryIO) -> Iterator[BinaryIO]:
    with ExitStack() as stack:
        if isinstance(source, (str, os.PathLike)):
            stream = stack.enter_context(open(source, "rb"))
        else:
            stream = source
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(stream)
            # detached, not closed: the stream under it is the caller's
            stack.callback(stream.detach)
        if stream.peek(2)[:2] == _GZIP_MAGIC:
            stream = stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb"))
        yield stream


def _until_errors(
    parsed: Iterable[Account | Interaction | FieldError],
) -> Iterator[Account | Interaction]:
    errors: list[FieldError] = []
    for item in parsed:
        if isinstance(item, FieldError):
            errors.append(item)
            if len(errors) >= MAX_ERRORS:
                break
        elif not errors:
            yield item
    if errors:
        raise InvalidInput(errors)


def _json_values(data: bytes) -> tuple[list[tuple[int, Any]], list[FieldError]]:
    """The top-level values of a JSON document or NDJSON file, with their positions."""
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as whole:
        lines = data.split(b"\n")
        first = next((ln for ln in lines if ln.strip()), b"")
        try:
            msgspec.json.decode(first)
        except msgspec.DecodeError:
            # the first line is no JSON value by itself: a (broken) multi-line document,
            # not NDJSON, so one error for the file rather than one per line
            return [], [FieldError("file", f"malformed JSON: {whole}")]
        values: list[tuple[int, Any]] = []
        errors: list[FieldError] = []
        for index, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                values.append((index, msgspec.json.decode(line)))
            except msgspec.DecodeError as e:
                errors.append(FieldError("line", f"malformed JSON: {e}", index))
        return values, errors
    return (list(enumerate(doc)) if isinstance(doc, list) else [(0, doc)]), []
