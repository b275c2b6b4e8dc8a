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

from graph.errors import FieldError, InvalidInput
from graph.model import Account, Interaction

__all__ = ["MAX_BATCH_ITEMS", "decode_accounts", "decode_interactions", "decode_items", "split_error"]

#: Items in one request. Larger imports are split into batches by the importers; each
#: batch is one transaction, so the cap also bounds a transaction's size.
MAX_BATCH_ITEMS = 50_000

#: At most this many errors are listed; a file of a million bad lines needs no million-line
#: answer to be fixed.
MAX_ERRORS = 100

T = TypeVar("T")

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
        return _one_by_one([(i, ln) for i, ln in present], type_, raw=True)

    try:
        return msgspec.json.decode(body, type=list[type_])
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as e:
        raise InvalidInput([FieldError("body", f"malformed JSON: {e}")]) from None
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as e:  # pragma: no cover - the typed pass caught it
        raise InvalidInput([FieldError("body", f"malformed JSON: {e}")]) from None
    if not isinstance(raw, list):
        raise InvalidInput([FieldError("body", "expected a JSON array of items")])
    check_batch_size(len(raw))
    return _one_by_one(list(enumerate(raw)), type_, raw=False)


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
