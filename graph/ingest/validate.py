"""The rules for incoming items, shared by the API and the CLI importers.

The rules themselves are declared on the model's types (``graph.model``: lengths,
printable characters, RFC 3339 timestamps with a timezone, known kinds, no unknown
fields) so that msgspec checks a whole batch in C on the fast path. Only when that fails
do we go item by item, to name *every* bad item by index and field.
"""

from __future__ import annotations

import re
from typing import Any, Sequence, TypeVar

import msgspec
import numpy as np

from graph.errors import FieldError, InvalidInput
from graph.model import Account, Interaction

__all__ = ["MAX_BATCH_ITEMS", "MAX_JSON_DEPTH", "LimitExceeded", "NestedTooDeep", "decode_accounts",
           "decode_interactions", "decode_items", "json_too_deep", "split_error"]

#: Items in one request. Larger imports are split into batches by the importers; each
#: batch is one transaction, so the cap also bounds a transaction's size.
MAX_BATCH_ITEMS = 50_000

#: At most this many errors are listed; a file of a million bad lines needs no million-line
#: answer to be fixed.
MAX_ERRORS = 100

#: Nesting levels a JSON body (or one value of an imported file) may have. castlegate's own
#: shapes need four (an array of accounts with their attributes); deeper is refused before
#: anything decodes it, so no decoder ever recurses on a client's say-so.
MAX_JSON_DEPTH = 64

T = TypeVar("T")


class NestedTooDeep(RecursionError):
    """A JSON body nested deeper than ``MAX_JSON_DEPTH``: the request as a whole is bad
    (the service answers 400 naming the body, as it does when its own framework's decoder
    meets such a body). A ``RecursionError`` so that one rule maps both."""

    def __init__(self, where: str = "body") -> None:
        super().__init__(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        self.where = where


class LimitExceeded(InvalidInput):
    """An import went past one of its limits (decompressed bytes, lines, records, the length
    of one line or JSON value). Nothing after it was read; what was written before it stays.
    An ``InvalidInput`` (one error, named by the limit) to whoever does not tell them apart:
    the import route answers 413, ``castlegate ingest`` reports it like a bad record."""

    def __init__(self, what: str, limit: int, message: str, index: int | None = None) -> None:
        super().__init__([FieldError(what, message, index)])
        self.what = what
        self.limit = limit
        self.index = index
        self.message = message

    def __str__(self) -> str:
        return self.message

_PATH = re.compile(r" - at `\$(?:\[(\d+)\])?\.?(.*)`$")


def decode_interactions(body: bytes, *, ndjson: bool = False) -> list[Interaction]:
    return decode_items(body, Interaction, ndjson=ndjson)


def decode_accounts(body: bytes, *, ndjson: bool = False) -> list[Account]:
    return decode_items(body, Account, ndjson=ndjson)


def decode_items(body: bytes, type_: type[T], *, ndjson: bool = False) -> list[T]:
    """Decodes a JSON array (or NDJSON, one object per line) of ``type_`` items.

    Raises ``InvalidInput`` listing each bad item by index (for NDJSON, the index is the
    line number minus one, blank lines included) and field.
    """
    if ndjson:
        lines = body.split(b"\n")
        present = [(i, ln) for i, ln in enumerate(lines) if ln.strip()]
        check_batch_size(len(present))
        joined = b"[" + b",".join(ln for _, ln in present) + b"]"
        try:
            return msgspec.json.decode(joined, type=list[type_])
        except msgspec.DecodeError:
            pass  # fall through to the line-by-line pass, which names the lines
        if json_too_deep(body):
            raise NestedTooDeep()
        return _one_by_one([(i, ln) for i, ln in present], type_, raw=True)

    # The typed pass never recurses deeper than the item types nest (a deep value is
    # refused where its type wants a string); the untyped passes below would, so the
    # body's depth is checked before them.
    try:
        return msgspec.json.decode(body, type=list[type_])
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as e:
        raise InvalidInput([FieldError("body", f"malformed JSON: {e}")]) from None
    if json_too_deep(body):
        raise NestedTooDeep()
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as e:  # pragma: no cover - the typed pass caught it
        raise InvalidInput([FieldError("body", f"malformed JSON: {e}")]) from None
    except RecursionError:  # pragma: no cover - json_too_deep caught it
        raise NestedTooDeep() from None
    if not isinstance(raw, list):
        raise InvalidInput([FieldError("body", "expected a JSON array of items")])
    check_batch_size(len(raw))
    return _one_by_one(list(enumerate(raw)), type_, raw=False)


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# after the escapes are gone a string is a quote, anything but a quote, a quote; an
# unterminated one matches nothing, so no start position is tried twice (linear)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_BRACKETS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_SLICE = 1 << 20


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text ``data`` opens more than ``limit`` arrays or objects inside
    each other (brackets in strings do not count). Linear in ``data`` and mostly in C:
    strings are cut out by two regular expressions, the brackets kept, and their running
    depth summed by numpy a slice at a time. Malformed text is measured as it stands (an
    unterminated string's brackets count), which may call a broken body too deep: it is
    refused either way."""
    if b"[" not in data and b"{" not in data:
        return False
    if b'"' in data:
        data = _STRING.sub(b"", _ESCAPE.sub(b"", data) if b"\\" in data else data)
    brackets = data.translate(_BRACKETS_AS_SQUARE, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:  # the usual bomb, [[[[... or {"a":{"a":...
        return True
    codes = np.frombuffer(brackets, dtype=np.uint8)
    depth = 0
    for start in range(0, len(codes), _SLICE):
        # "[" is 91 and "]" 93: 92 - code is +1 for an opening bracket, -1 for a closing one
        running = np.cumsum(92 - codes[start : start + _SLICE].astype(np.int32)) + depth
        if int(running.max()) > limit:
            return True
        depth = int(running[-1])
    return False


def check_batch_size(n: int) -> None:
    """Refuses a request of more than ``MAX_BATCH_ITEMS`` items."""
    if n > MAX_BATCH_ITEMS:
        raise InvalidInput(
            [FieldError("body", f"{n} items in one request; at most {MAX_BATCH_ITEMS} are accepted")]
        )


def _one_by_one(items: Sequence[tuple[int, Any]], type_: type[T], *, raw: bool) -> list[T]:
    out: list[T] = []
    errors: list[FieldError] = []
    for index, item in items:
        try:
            if raw:
                out.append(msgspec.json.decode(item, type=type_))
            else:
                # re-encoding gives exactly the JSON decoding rules of the fast path
                out.append(msgspec.json.decode(msgspec.json.encode(item), type=type_))
        except msgspec.ValidationError as e:
            field, message = split_error(str(e))
            errors.append(FieldError(field or "item", message, index))
        except msgspec.DecodeError as e:
            errors.append(FieldError("line", f"malformed JSON: {e}", index))
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise InvalidInput(errors)
    return out


def split_error(message: str) -> tuple[str, str]:
    """msgspec says "Expected `str`, got `int` - at `$.source`"; we want ("source",
    "Expected `str`, got `int`")."""
    m = _PATH.search(message)
    field, text = (m.group(2), message[: m.start()]) if m else ("", message)
    if not field:
        named = re.match(r"Object (?:contains unknown|missing required) field `(.+)`", text)
        if named:
            field = named.group(1)
    return field, text
