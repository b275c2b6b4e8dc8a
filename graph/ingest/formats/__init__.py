"""Importers: the files users hold, read as castlegate items (``Account``, ``Interaction``).

``read_records(source, fmt, limits)`` takes a file (a path, a binary stream, or an
iterable of byte chunks such as a request body), gunzips it when it starts with gzip's
magic bytes (so ``.gz`` files are read as they are), frames it, and streams the items of
format ``fmt``, one of ``FORMATS``. Everything is incremental and bounded, whatever the
file: memory holds one chunk, one line or one JSON value at a time (plus what a format
must keep until the end, see below), and no step costs more than linear time in the bytes
read.

- gzip is decompressed with ``zlib`` 64 KiB of output at a time (concatenated members are
  read; other compressions, and gzip inside gzip, are refused);
- line formats (``ndjson``, ``csv``, ``snap-higgs``) are split into lines in C, a line at
  most ``ReadLimits.max_line_bytes`` long; runs of blank lines are counted, not visited;
- document formats (``x-v2``, ``mastodon``, ``bluesky``) are JSON: NDJSON (one value a
  line), one JSON value (possibly spanning lines), or a JSON array whose elements are
  split off one at a time (each decoded by itself, so a large array is never decoded
  whole). A value is at most ``ReadLimits.max_value_bytes`` long and nested at most
  ``MAX_JSON_DEPTH`` deep. Their parser receives the top-level values with their
  positions. ``x-v2`` and ``mastodon`` resolve references across the whole file, so they
  keep every tweet or status until its end (``FormatSpec.holds_file``): their memory grows
  with the file, which is why the import route reads less of them.

``ReadLimits`` also bounds the decompressed bytes, the lines and the items of one file;
past a limit ``LimitExceeded`` is raised at once.

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

Once a bad record is met nothing more is yielded: at most ``ERROR_LOOKAHEAD`` more records
are read to list up to ``MAX_ERRORS`` errors, then ``InvalidInput`` is raised. Items before
the first bad record have been yielded by then; a caller that wants all-or-nothing reads
the whole iterator before storing anything.
"""

from __future__ import annotations

import os
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import msgspec

from graph.errors import FieldError, InvalidInput
from graph.ingest.formats import bluesky, mastodon, native, snap, x_v2
from graph.ingest.formats import conover, edgelist, gephi_csv, gexf, gml, graphml
from graph.ingest.validate import MAX_ERRORS, MAX_JSON_DEPTH, LimitExceeded, json_too_deep
from graph.model import Account, Interaction

__all__ = ["CHUNK", "ERROR_LOOKAHEAD", "FORMATS", "FormatSpec", "ReadLimits", "read_records"]

#: bytes read, and decompressed, at a time
CHUNK = 64 * 1024
#: records read after the first bad one to list more errors (up to ``MAX_ERRORS``)
ERROR_LOOKAHEAD = 1_000

_GZIP_MAGIC = b"\x1f\x8b"
# what else a client might send compressed; refused by name rather than read as garbage
_OTHER_COMPRESSION = {
    b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd", b"PK\x03\x04": "zip",
    b"7z\xbc\xaf\x27\x1c": "7z", b"\x04\x22\x4d\x18": "lz4",
}


@dataclass(frozen=True)
class FormatSpec:
    """One importable format.

    ``parse`` yields items and a ``FieldError`` per bad record. A line format's parser is
    called with the ``(line index, line)`` pairs of the (decompressed) file; a document
    format's (``document=True``) with the ``(index, value)`` pairs of its top-level JSON
    values. ``blank_lines``: the parser wants blank lines too (a quoted CSV cell may hold
    one). ``holds_file``: the parser keeps what it read until the end of the file.
    """

    description: str
    parse: Callable[[Any], Iterator[Account | Interaction | FieldError]]
    document: bool = False
    blank_lines: bool = False
    holds_file: bool = False


FORMATS: dict[str, FormatSpec] = {
    "ndjson": FormatSpec(
        'castlegate interactions, one JSON object a line; "type": "account" marks an account',
        native.parse_ndjson,
    ),
    "csv": FormatSpec(
        "castlegate interactions as CSV, header row of interaction field names",
        native.parse_csv,
        blank_lines=True,
    ),
    "x-v2": FormatSpec(
        "X API v2 tweet responses (data + includes), as JSON, a JSON array or NDJSON of pages",
        x_v2.parse,
        document=True,
        holds_file=True,
    ),
    "mastodon": FormatSpec(
        'Mastodon REST API statuses (JSON array or NDJSON), plus {"follows": [...]} objects',
        mastodon.parse,
        document=True,
        holds_file=True,
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
    # static networks (no time: edges dated 1970-01-01Z, kind mention unless the file
    # says; see graph/ingest/formats/static_graph.py)
    "edgelist": FormatSpec(
        "edge list: source target [weight] a line, whitespace or comma separated; # and % comments",
        edgelist.parse,
    ),
    "edgelist-timed": FormatSpec(
        "timed edge list: source target unix_ts [count] a line (SNAP CollegeMsg)",
        edgelist.parse_timed,
    ),
    "conover": FormatSpec(
        "Conover et al. 2011 polarization flat files: xxx.nodes and xxx.edgelist, tab separated",
        conover.parse,
    ),
    "gml": FormatSpec("GML graph (networkx, igraph, Pajek), read as a stream", gml.parse),
    "graphml": FormatSpec("GraphML graph, streamed; DTDs refused", graphml.parse),
    "gexf": FormatSpec("GEXF graph (Gephi), streamed; DTDs refused", gexf.parse),
    "gephi-csv": FormatSpec(
        "Gephi spreadsheet tables: a node table (Id, Label, ...) or an edge table (Source, Target, Weight, ...)",
        gephi_csv.parse,
        blank_lines=True,
    ),
}


@dataclass(frozen=True)
class ReadLimits:
    """How much of a file is read before ``LimitExceeded``. ``None``: no limit (the
    defaults, for a local file the user owns); the import route sets them all."""

    #: bytes after decompression
    max_bytes: int | None = None
    #: lines (newline characters), blank ones included
    max_lines: int | None = None
    #: accounts and interactions
    max_items: int | None = None
    #: one line of a line format; no castlegate record comes near it
    max_line_bytes: int = 1 << 20
    #: one top-level JSON value of a document format (an NDJSON line, an array element,
    #: or the whole file when it is one value spanning lines)
    max_value_bytes: int = 64 << 20


def read_records(
    source: Path | str | BinaryIO | Iterable[bytes], fmt: str, limits: ReadLimits | None = None
) -> Iterator[Account | Interaction]:
    """Streams the accounts and interactions of ``source`` in format ``fmt``.

    ``source`` is a path, a binary stream the caller owns and closes (the CLI passes one
    that reports progress), or an iterable of byte chunks (the import route's request
    body). Raises ``ValueError`` at once for an unknown format; while iterating,
    ``InvalidInput`` when the file holds bad records (see the module docstring) and
    ``LimitExceeded`` past one of ``limits``.
    """
    spec = FORMATS.get(fmt)
    if spec is None:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return _read(source, spec, limits or ReadLimits())


def _read(source: Path | str | BinaryIO | Iterable[bytes], spec: FormatSpec,
          limits: ReadLimits) -> Iterator[Account | Interaction]:
    with _chunks(source) as chunks:
        data = _counted(_decompressed(chunks), limits)
        if spec.document:
            values = _Values(_json_values(data, limits.max_value_bytes))
            parsed: Iterable[Any] = _with_framing_errors(spec.parse(values), values)
        else:
            parsed = spec.parse(_lines(data, limits.max_line_bytes, keep_blank=spec.blank_lines))
        yield from _until_errors(parsed, limits.max_items)


# ------------------------------------------------------------------------ bytes in

@contextmanager
def _chunks(source: Path | str | BinaryIO | Iterable[bytes]) -> Iterator[Iterator[bytes]]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield _read_chunks(f)
    elif hasattr(source, "read"):
        yield _read_chunks(source)  # the caller's: not closed here
    else:
        yield iter(source)


def _read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    read = getattr(stream, "read1", None) or stream.read
    while True:
        chunk = read(CHUNK)
        if not chunk:
            return
        yield chunk


def _decompressed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The file's bytes: gunzipped when it starts with gzip's magic bytes."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 8:
            break
    if not head:
        return
    data = chain([head], chunks)
    if head.startswith(_GZIP_MAGIC):
        first = True
        for piece in _gunzip(data):
            if first and piece:
                first = False
                _refuse_compressed(piece, inside_gzip=True)
            yield piece
    else:
        _refuse_compressed(head, inside_gzip=False)
        yield from data


def _refuse_compressed(head: bytes, *, inside_gzip: bool) -> None:
    where = "inside gzip " if inside_gzip else ""
    if inside_gzip and head.startswith(_GZIP_MAGIC):
        raise InvalidInput([FieldError("file", "gzip inside gzip: send the file gzipped once")])
    for magic, name in _OTHER_COMPRESSION.items():
        if head.startswith(magic):
            raise InvalidInput([FieldError(
                "file", f"{name}-compressed data {where}is not read: send the plain file, or gzip it")])


def _gunzip(data: Iterable[bytes]) -> Iterator[bytes]:
    """Incremental gunzip: at most ``CHUNK`` bytes of output per step, whatever the ratio,
    so a small body that inflates to gigabytes costs memory for one chunk (and the byte
    limit stops it). Concatenated gzip members are read one after the other, as gzip does;
    zero bytes after the last one are ignored, anything else after it is refused."""
    wbits = 16 + zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        for chunk in data:
            pending = chunk
            while pending:
                if d.eof:  # the next member, or the zero padding some tools write
                    if not pending.strip(b"\x00"):
                        break
                    if not pending.startswith(_GZIP_MAGIC[: len(pending)]):
                        raise InvalidInput([FieldError("file", "data after the end of the gzip stream")])
                    d = zlib.decompressobj(wbits)
                out = d.decompress(pending, CHUNK)
                if out:
                    yield out
                pending = d.unconsumed_tail
                # a full output chunk may leave output inside zlib with no input left
                while not pending and len(out) == CHUNK and not d.eof:
                    out = d.decompress(b"", CHUNK)
                    if out:
                        yield out
                    pending = d.unconsumed_tail
                if d.eof:
                    pending = d.unused_data
    except zlib.error as e:
        raise InvalidInput([FieldError("file", f"not valid gzip: {e}")]) from None
    if not d.eof:
        raise InvalidInput([FieldError("file", "the gzip data ends early: the file is cut short")])


def _counted(pieces: Iterable[bytes], limits: ReadLimits) -> Iterator[bytes]:
    """The bytes as they come, counting bytes and lines against ``limits``."""
    total = lines = 0
    for piece in pieces:
        total += len(piece)
        if limits.max_bytes is not None and total > limits.max_bytes:
            raise LimitExceeded("bytes", limits.max_bytes,
                                f"the file is larger than {limits.max_bytes} bytes (after decompression)")
        if limits.max_lines is not None:
            lines += piece.count(b"\n")
            if lines > limits.max_lines:
                raise LimitExceeded("lines", limits.max_lines, f"the file has more than {limits.max_lines} lines")
        yield piece


# ------------------------------------------------------------------------- framing

def _lines(pieces: Iterable[bytes], max_line: int, *, keep_blank: bool,
           first_index: int = 0, what: str = "line") -> Iterator[tuple[int, bytes]]:
    """``(index, line)`` of each line, without its ``\\n``; blank lines are counted but not
    yielded unless ``keep_blank``. Lines are split in C a chunk at a time, and a chunk of
    blank lines only is skipped whole: a file of newlines costs what reading it costs. A
    line arriving in many small pieces is gathered in a ``bytearray`` (amortised appends),
    so however the bytes are cut, each is copied a bounded number of times."""
    index = first_index
    pending = bytearray()  # the line begun and not ended yet
    for piece in pieces:
        end = piece.rfind(b"\n")
        if end < 0:
            pending += piece
            if len(pending) > max_line:
                raise _too_long(index, max_line, what)
            continue
        if pending:
            end += len(pending)
            data = bytes(pending) + piece
            pending = bytearray()
        else:
            data = piece
        pending += memoryview(data)[end + 1:]
        if not keep_blank and data.isspace():
            index += data.count(b"\n", 0, end + 1)
        else:
            lines = data[:end].split(b"\n")
            # only a line that began in an earlier chunk can be longer than this chunk
            if len(lines[0]) > max_line or (len(data) > max_line and max(map(len, lines)) > max_line):
                raise _too_long(index + next(i for i, ln in enumerate(lines) if len(ln) > max_line), max_line, what)
            if keep_blank:
                for line in lines:
                    yield index, line
                    index += 1
            else:
                for line in lines:
                    if line and not line.isspace():
                        yield index, line
                    index += 1
        if len(pending) > max_line:
            raise _too_long(index, max_line, what)
    if pending and (keep_blank or not pending.isspace()):
        yield index, bytes(pending)


def _too_long(index: int, max_line: int, what: str) -> LimitExceeded:
    also = " (a JSON value a line)" if what == "value" else ""
    return LimitExceeded(what, max_line, f"line {index + 1}{also} is longer than {max_line} bytes", index)


class _Values:
    """The top-level values for a document format's parser; framing errors (a malformed
    line or element) are set aside for ``_with_framing_errors`` to pass on, and reading
    stops once they are enough to refuse the file (a file of a million bad lines is not
    read to its end)."""

    def __init__(self, framed: Iterable[tuple[int, Any] | FieldError]) -> None:
        self._framed = framed
        self.errors: list[FieldError] = []

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        after_first = 0
        for item in self._framed:
            if self.errors:
                after_first += 1
                if after_first > ERROR_LOOKAHEAD or len(self.errors) >= MAX_ERRORS:
                    return
            if isinstance(item, FieldError):
                self.errors.append(item)
            else:
                yield item


def _with_framing_errors(parsed: Iterable[Any], values: _Values) -> Iterator[Any]:
    for item in parsed:
        if values.errors:
            yield from values.errors
            values.errors.clear()
        yield item
    yield from values.errors


def _json_values(pieces: Iterable[bytes], max_value: int) -> Iterator[tuple[int, Any] | FieldError]:
    """The top-level values of a JSON document, NDJSON file or JSON array, with their
    positions, and a ``FieldError`` for each that does not decode."""
    pieces = iter(pieces)
    blank_lines = 0
    for piece in pieces:
        if piece and not piece.isspace():
            break
        blank_lines += piece.count(b"\n")
    else:
        yield FieldError("file", "malformed JSON: the file is empty")
        return
    rest = chain([piece], pieces)
    if piece.lstrip()[:1] == b"[":
        yield from _array_elements(rest, max_value)
        return

    lines = _lines(rest, max_value, keep_blank=False, first_index=blank_lines, what="value")
    index, line = next(lines, (0, b""))  # the piece above is not all whitespace: a line comes
    value, problem = _decode(line)
    if problem is None:  # NDJSON (or one value on one line)
        yield index, value
        for index, line in lines:
            value, problem = _decode(line)
            yield (index, value) if problem is None else FieldError("line", problem, index)
        return
    # the first line is no JSON value by itself: one value spanning lines, read whole, or a
    # broken file (NDJSON with a bad first line too): one error for the file
    if not problem.endswith("truncated"):
        yield FieldError("file", problem)
        return
    parts, size = [line], len(line)
    for _, line in lines:
        size += len(line) + 1
        if size > max_value:
            raise LimitExceeded("value", max_value,
                                f"a JSON document spanning lines is read whole, at most {max_value} bytes;"
                                " send larger files as NDJSON (one value a line) or as a JSON array")
        parts.append(line)
    value, problem = _decode(b"\n".join(parts))
    yield (0, value) if problem is None else FieldError("file", problem)


def _decode(data: bytes) -> tuple[Any, str | None]:
    if json_too_deep(data):
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        return msgspec.json.decode(data), None
    except msgspec.DecodeError as e:
        return None, f"malformed JSON: {e}"


# a whole string (escapes included), a lone quote (a string the buffer does not close
# yet), or one structural character; what lies between them is scalars and whitespace
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["\[\]{},]', re.DOTALL)
_QUOTE, _OPEN, _CLOSE, _COMMA = ord('"'), (ord("["), ord("{")), (ord("]"), ord("}")), ord(",")


def _array_elements(pieces: Iterator[bytes], max_value: int) -> Iterator[tuple[int, Any] | FieldError]:
    """The elements of a top-level JSON array, split off as the bytes come and decoded one
    at a time. The split follows strings, brackets and commas (a regular expression finds
    them; a string is one match), which also measures each element's depth, so no decoder
    is handed anything nested deeper than ``MAX_JSON_DEPTH``."""
    buf = next(pieces)
    pos = buf.index(b"[") + 1
    start = pos      # the current element's first byte
    depth = 1        # 1: between the array's elements
    deepest = 1      # inside the current element
    index = 0
    while True:
        resume = len(buf)
        for m in _TOKEN.finditer(buf, pos):
            c = buf[m.start()]
            if c == _QUOTE:
                if m.end() - m.start() == 1:  # not closed in this buffer: read on, then retry
                    resume = m.start()
                    break
            elif c in _OPEN:
                depth += 1
                deepest = max(deepest, depth)
            elif c in _CLOSE or (c == _COMMA and depth == 1):
                if c != _COMMA:
                    depth -= 1
                if depth > 1 or (c != _COMMA and depth == 1):
                    continue
                if m.start() - start > max_value:
                    raise LimitExceeded("value", max_value,
                                        f"array element {index} is longer than {max_value} bytes", index)
                raw = buf[start:m.start()]
                if raw.strip() or c == _COMMA or index:
                    yield _element(raw, index, deepest - 1)
                index, start, deepest = index + 1, m.end(), 1
                if depth == 0:  # the array's end: only whitespace may follow
                    tail = buf[m.end():]
                    for more in chain([tail], pieces):
                        if not more.isspace() and more:
                            yield FieldError("file", "malformed JSON: data after the array's end")
                            return
                    return
        pos = resume
        # read on: at least as much again as the current element holds, so that however
        # small the pieces come, the element is copied and rescanned O(1) times a byte
        gathered, size, want = [], 0, max(CHUNK, pos - start)
        for more in pieces:
            gathered.append(more)
            size += len(more)
            if size >= want:
                break
        if not gathered:
            yield FieldError("file", "malformed JSON: the file ends inside its array (it is cut short)")
            return
        # keep the current element only
        buf, pos = buf[start:] + b"".join(gathered), pos - start
        start = 0
        if pos > max_value:
            raise LimitExceeded("value", max_value, f"array element {index} is longer than {max_value} bytes", index)


def _element(raw: bytes, index: int, depth: int) -> tuple[int, Any] | FieldError:
    if depth > MAX_JSON_DEPTH:
        return FieldError("item", f"JSON nested deeper than {MAX_JSON_DEPTH} levels", index)
    try:
        return index, msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        return FieldError("item", f"malformed JSON: {e}", index)


# -------------------------------------------------------------------------- records

def _until_errors(
    parsed: Iterable[Account | Interaction | FieldError], max_items: int | None = None,
) -> Iterator[Account | Interaction]:
    errors: list[FieldError] = []
    items = after_first = 0
    for item in parsed:
        if isinstance(item, FieldError):
            errors.append(item)
            if len(errors) >= MAX_ERRORS:
                break
        elif not errors:
            items += 1
            if max_items is not None and items > max_items:
                raise LimitExceeded("items", max_items, f"the file holds more than {max_items} records")
            yield item
        if errors:
            after_first += 1
            if after_first > ERROR_LOOKAHEAD:
                break
    if errors:
        raise InvalidInput(errors)
