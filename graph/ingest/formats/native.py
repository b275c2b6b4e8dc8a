"""castlegate's own item shape as files (NDJSON and CSV), and the helpers every importer
uses to make items under the model's rules.

- ``ndjson``: one JSON object a line with the fields of ``graph.model.Interaction``,
  checked by the same rules as ``POST /v1/graphs/{graph}/interactions``. A line with
  ``"type": "account"`` holds a ``graph.model.Account`` instead (``"type":
  "interaction"`` may be written too); the key is dropped before the line is checked.
  Blank lines are skipped.
- ``csv``: RFC 4180 CSV in UTF-8 (a leading BOM is tolerated, as spreadsheet programs
  write one) with a header row of interaction field names in any order: ``id``, ``kind``,
  ``source``, ``target`` and ``at`` are required, ``post``, ``in_reply_to``, ``object``,
  ``conversation`` and ``platform`` optional. An empty cell is an absent field. Accounts
  have no CSV form.

Error indexes are 0-based line indexes; in CSV the header is line 0 and a row is named by
its first line.

Both parsers get the file as ``(line index, line)`` pairs, framed by
``graph.ingest.formats`` (which bounds a line's length and, for NDJSON, skips runs of blank
lines without looking at them one by one); a line comes without its ``\n``.

References: castlegate's OpenAPI document (``openapi/openapi.json``, schemas
``Interaction`` and ``Account``); CSV: https://www.rfc-editor.org/rfc/rfc4180
"""

from __future__ import annotations

import csv
import re
from datetime import timezone
from typing import Any, Iterable, Iterator, TypeVar

import msgspec

from graph.errors import FieldError
from graph.model import Account, Interaction

__all__ = ["AccountBook", "build", "field_error", "join_path", "parse_csv", "parse_ndjson"]

T = TypeVar("T", Account, Interaction)

_FIELDS = tuple(f.name for f in msgspec.structs.fields(Interaction))
_REQUIRED = tuple(f.name for f in msgspec.structs.fields(Interaction) if f.required)
_AT_PATH = re.compile(r"^(.*) - at `\$\.?(.*)`$", re.DOTALL)
_NAMED_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `(.+)`$")


Lines = Iterable[tuple[int, bytes]]


def parse_ndjson(lines: Lines) -> Iterator[Account | Interaction | FieldError]:
    for index, line in lines:
        if not line.strip():
            continue
        try:
            raw = msgspec.json.decode(line)
        except msgspec.DecodeError as e:
            yield FieldError("line", f"malformed JSON: {e}", index)
            continue
        except RecursionError:  # nested beyond the decoder's own limit: a bad line, no crash
            yield FieldError("line", "malformed JSON: nested too deeply", index)
            continue
        if not isinstance(raw, dict):
            yield FieldError("line", "expected a JSON object", index)
            continue
        marker = raw.pop("type", "interaction")
        if marker == "interaction":
            yield build(Interaction, raw, index)
        elif marker == "account":
            yield build(Account, raw, index)
        else:
            yield FieldError("type", f'expected "account" or "interaction", got {marker!r}', index)


def parse_csv(lines: Lines) -> Iterator[Interaction | FieldError]:
    reader = csv.reader(_text(lines))
    try:
        header = next(reader, None)
        if header is None:
            yield FieldError("header", "empty file: expected a header row", 0)
            return
        problems = _header_problems(header)
        if problems:
            yield from problems
            return
        start = reader.line_num
        for row in reader:
            if row:
                yield _row(header, row, start)
            start = reader.line_num
    except UnicodeDecodeError as e:
        yield FieldError("file", f"not UTF-8 text: {e}", reader.line_num)
    except csv.Error as e:
        yield FieldError("line", f"malformed CSV: {e}", reader.line_num - 1)


def _text(lines: Lines) -> Iterator[str]:
    """The lines as text for ``csv.reader``, each with its line end back (a quoted cell
    may span lines), a leading BOM dropped (spreadsheet programs write one)."""
    first = True
    for _, line in lines:
        text = line.decode("utf-8")
        if first:
            text, first = text.removeprefix("\ufeff"), False
        yield text + "\n"


def _header_problems(header: list[str]) -> list[FieldError]:
    problems = [
        FieldError(name or "header", f"unknown column; expected some of {', '.join(_FIELDS)}", 0)
        for name in header
        if name not in _FIELDS
    ]
    problems += [
        FieldError(name, "column appears more than once", 0)
        for name in sorted({n for n in header if header.count(n) > 1})
    ]
    problems += [
        FieldError(name, "required column is missing", 0)
        for name in _REQUIRED
        if name not in header
    ]
    return problems


def _row(header: list[str], row: list[str], index: int) -> Interaction | FieldError:
    if len(row) != len(header):
        return FieldError("line", f"expected {len(header)} cells, got {len(row)}", index)
    return build(Interaction, {k: v for k, v in zip(header, row) if v != ""}, index)


def build(
    type_: type[T], fields: dict[str, Any], index: int | None, at: str = ""
) -> T | FieldError:
    """``fields`` as a ``type_`` item checked by the model's rules (the API's), with the
    interaction's time in UTC; or the ``FieldError`` naming the first bad field, below the
    path ``at`` of the record the fields came from."""
    try:
        item = msgspec.convert(fields, type_)
    except msgspec.ValidationError as e:
        return field_error(e, index, at)
    if isinstance(item, Interaction) and item.at.tzinfo is not timezone.utc:
        item = msgspec.structs.replace(item, at=item.at.astimezone(timezone.utc))
    return item


def field_error(e: msgspec.ValidationError, index: int | None, at: str = "") -> FieldError:
    """msgspec says "Expected `str`, got `int` - at `$.data[0].id`"; this makes it
    ``FieldError("<at>.data[0].id", "Expected `str`, got `int`", index)``."""
    message, path = str(e), ""
    located = _AT_PATH.match(message)
    if located:
        message, path = located.group(1), located.group(2)
    named = _NAMED_FIELD.match(message)
    if named:
        path = join_path(path, named.group(1))
    return FieldError(join_path(at, path) or "item", message, index)


def join_path(parent: str, child: str) -> str:
    if not parent or not child:
        return parent or child
    return parent + child if child.startswith("[") else f"{parent}.{child}"


class AccountBook:
    """The accounts one file speaks of, one per id. A later sighting fills in or updates
    fields but never erases one: a mention knows a handle, a profile also its followers."""

    def __init__(self) -> None:
        self._fields: dict[str, dict[str, Any]] = {}

    def add(self, id: str, **fields: Any) -> None:
        known = self._fields.setdefault(id, {"id": id})
        known.update((k, v) for k, v in fields.items() if v is not None)

    def accounts(self) -> Iterator[Account | FieldError]:
        for fields in self._fields.values():
            yield build(Account, fields, None, f"account {fields['id']}")
