"""How files are read: gzip a chunk at a time, lines and JSON values framed incrementally,
every limit, and the hostile files that used to cost minutes or gigabytes (a small gzip of
newlines or zeros, millions of short bad lines, JSON nested to the stack's end)."""

from __future__ import annotations

import bz2
import gzip
import json
import random
import time
import tracemalloc
import zlib
from pathlib import Path

import msgspec
import pytest

from graph.errors import FieldError, InvalidInput
from graph.ingest.formats import FORMATS, ReadLimits, read_records
from graph.ingest.validate import (
    MAX_JSON_DEPTH, LimitExceeded, NestedTooDeep, decode_accounts, decode_interactions, json_too_deep,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
ALL_FIXTURES = [
    ("x_v2_page.json", "x-v2"), ("mastodon_statuses.json", "mastodon"),
    ("bluesky_pages.json", "bluesky"), ("native.ndjson", "ndjson"), ("native.csv", "csv"),
    ("higgs_excerpt.txt", "snap-higgs"),
]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def outcome(source, fmt: str, limits: ReadLimits | None = None):
    """The records, or the error that stopped the reading."""
    try:
        return list(read_records(source, fmt, limits))
    except (InvalidInput, LimitExceeded) as e:
        return e


def gzipped(blocks, level: int = 9) -> bytes:
    z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join([*(z.compress(b) for b in blocks), z.flush()])


# -------------------------------------------------------------- framing is invisible

@pytest.mark.parametrize(("name", "fmt"), ALL_FIXTURES)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096])
def test_any_chunking_reads_like_the_file(name, fmt, size):
    data = (FIXTURES / name).read_bytes()
    whole = list(read_records(FIXTURES / name, fmt))
    assert list(read_records(chunked(data, size), fmt)) == whole
    assert list(read_records(chunked(gzip.compress(data), size), fmt)) == whole


def test_json_arrays_are_split_like_a_decoder_reads_them():
    rng = random.Random(7)
    words = ['"a,b"', '"]"', '"[{"', r'"q\"]"', r'"\\"', "1", "-2.5e3", "true", "null", '""']

    def value(depth: int) -> str:
        roll = rng.random()
        if depth > 4 or roll < 0.4:
            return rng.choice(words)
        if roll < 0.7:
            return "[" + ", ".join(value(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
        return "{" + ",".join(f'"k{i}" : {value(depth + 1)}' for i in range(rng.randint(0, 3))) + "}"

    from graph.ingest.formats import _json_values

    for _ in range(200):
        elements = [value(0) for _ in range(rng.randint(0, 6))]
        text = (" [\n" + " ,\n ".join(elements) + "\n] \n").encode()
        expected = list(enumerate(msgspec.json.decode(text)))
        for size in (1, 5, 64):
            assert list(_json_values(chunked(text, size), 1 << 20)) == expected, text


def test_crlf_bom_and_quoted_csv_cells_across_chunks():
    text = ('\ufeffid,kind,source,target,at,object\r\n'
            'e1,reply,ana,ben,2025-03-01T10:00:00Z,"https://example.org/?a=1,2"\r\n\r\n'
            'e2,reply,ana,ben,2025-03-01T10:00:00Z,"two\r\nlines"\r\n')
    refused = outcome(chunked(text.encode(), 3), "csv")
    # a quoted cell may span lines (and is then refused: free text has no control characters)
    assert isinstance(refused, InvalidInput) and [(e.field, e.index) for e in refused.errors] == [("object", 3)]
    [item] = list(read_records(chunked(text.encode()[: text.encode().index(b"e2")], 3), "csv"))
    assert item.object == "https://example.org/?a=1,2"


# ----------------------------------------------------------------------------- gzip

def test_gzip_members_padding_truncation_and_trailing_data():
    data = (FIXTURES / "higgs_excerpt.txt").read_bytes()
    plain = list(read_records(FIXTURES / "higgs_excerpt.txt", "snap-higgs"))
    members = gzip.compress(data[:300]) + gzip.compress(data[300:])
    assert list(read_records(chunked(members, 5), "snap-higgs")) == plain
    assert list(read_records([gzip.compress(data) + b"\0" * 64], "snap-higgs")) == plain
    cut = outcome([gzip.compress(data)[:-12]], "snap-higgs")
    assert isinstance(cut, InvalidInput) and "cut short" in cut.errors[0].message
    junk = outcome([gzip.compress(data) + b"<html>"], "snap-higgs")
    assert isinstance(junk, InvalidInput) and "after the end" in junk.errors[0].message
    bad = outcome([b"\x1f\x8b" + b"\x08\x00" + b"garbage" * 10], "snap-higgs")
    assert isinstance(bad, InvalidInput) and bad.errors[0].field == "file"


def test_other_compressions_and_gzip_in_gzip_are_refused_by_name():
    data = (FIXTURES / "native.ndjson").read_bytes()
    for body, name in [(bz2.compress(data), "bzip2"), (gzip.compress(gzip.compress(data)), "gzip inside gzip"),
                       (gzip.compress(bz2.compress(data)), "bzip2-compressed data inside gzip")]:
        refused = outcome([body], "ndjson")
        assert isinstance(refused, InvalidInput) and name in refused.errors[0].message


def test_a_gigabyte_of_zeros_in_a_megabyte_costs_one_chunk():
    body = gzipped(b"\0" * (1 << 20) for _ in range(1024))
    assert len(body) < 1_100_000
    for fmt in FORMATS:
        tracemalloc.start()
        start = time.perf_counter()
        refused = outcome([body], fmt, ReadLimits(max_bytes=1 << 30, max_value_bytes=2 << 20))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert isinstance(refused, (LimitExceeded, InvalidInput)), fmt
        assert seconds < 2 and peak < 16 << 20, (fmt, seconds, peak)


# --------------------------------------------------------------------------- limits

def test_decompressed_bytes_lines_and_items_are_limited():
    lines = b"".join(b"1 2 %d RT\n" % (1341100000 + n) for n in range(1000))
    assert len(outcome([gzip.compress(lines)], "snap-higgs", ReadLimits(max_bytes=len(lines)))) == 1000
    over = outcome([gzip.compress(lines)], "snap-higgs", ReadLimits(max_bytes=len(lines) - 1))
    assert isinstance(over, LimitExceeded) and over.what == "bytes"
    assert len(outcome([lines], "snap-higgs", ReadLimits(max_lines=1000))) == 1000
    over = outcome([lines], "snap-higgs", ReadLimits(max_lines=999))
    assert isinstance(over, LimitExceeded) and over.what == "lines"
    over = outcome([lines], "snap-higgs", ReadLimits(max_items=999))
    assert isinstance(over, LimitExceeded) and over.what == "items"


def test_a_line_and_a_json_value_are_limited():
    long = b"1 2 1341100000 RT" + b" " * 100 + b"\n"
    assert len(outcome(chunked(long * 3, 10), "snap-higgs", ReadLimits(max_line_bytes=200))) == 3
    over = outcome(chunked(b"ok\n" + long, 10), "snap-higgs", ReadLimits(max_line_bytes=100))
    assert isinstance(over, LimitExceeded) and (over.what, over.index) == ("line", 1)
    page = json.dumps({"records": []}).encode()
    big = b"[" + page + b"," + b'{"records": [' + b" " * 5000 + b"]}]"
    over = outcome(chunked(big, 100), "bluesky", ReadLimits(max_value_bytes=1000))
    assert isinstance(over, LimitExceeded) and (over.what, over.index) == ("value", 1)
    over = outcome([b"{\n" + b" " * 5000 + b"\n}"], "bluesky", ReadLimits(max_value_bytes=1000))
    assert isinstance(over, LimitExceeded) and over.what == "value"


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("packed", [False, True])
def test_newline_floods_are_linear_and_fast(fmt, packed):
    # 200 MB of newlines is 0.2 MB of gzip: it used to cost 364 s (a Python call per line
    # through GzipFile.readline, and nothing counted); now chunks of blank lines are
    # skipped whole and the line limit stops the rest
    flood = gzipped(b"\n" * (1 << 20) for _ in range(200)) if packed else b"\n" * 2_000_000
    start = time.perf_counter()
    result = outcome(chunked(flood, 1 << 16), fmt, ReadLimits(max_lines=10_000_000))
    assert time.perf_counter() - start < 1.5
    if packed and fmt not in ("csv", "gephi-csv"):  # CSV tables refuse the blank header at once
        assert isinstance(result, LimitExceeded) and result.what == "lines"
    else:
        assert result == [] or isinstance(result, InvalidInput)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_millions_of_short_bad_lines_stop_at_the_first_errors(fmt):
    body = gzip.compress(b"{}\n" * 2_000_000)
    start = time.perf_counter()
    refused = outcome([body], fmt)
    assert time.perf_counter() - start < 1.5
    assert isinstance(refused, (InvalidInput, LimitExceeded))
    if isinstance(refused, InvalidInput):
        assert 1 <= len(refused.errors) <= 100


def test_reading_stops_soon_after_the_first_bad_record():
    good = b"1 2 1341100000 RT\n"
    body = b"1 2 x RT\n" + good * 2_000_000
    consumed = []

    def chunks():
        for piece in chunked(body, 1 << 16):
            consumed.append(len(piece))
            yield piece

    refused = outcome(chunks(), "snap-higgs")
    assert isinstance(refused, InvalidInput) and refused.errors == [
        FieldError("unix_ts", "expected a Unix timestamp in seconds, got 'x'", 0)]
    assert sum(consumed) < 200_000, "the rest of the file is not read"


# ---------------------------------------------------------------------- JSON depth

def test_json_depth_is_measured_outside_strings():
    assert not json_too_deep(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_too_deep(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert json_too_deep(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    assert not json_too_deep(b'["' + b"[" * 1000 + b'", "\\"' + b"{" * 1000 + b'"]')
    assert json_too_deep(b"[" + b"[[]" * 100 + b"]" * 101)  # no run of brackets betrays it
    assert not json_too_deep((b"[" * 64 + b"]" * 64) * 10_000)
    start = time.perf_counter()
    assert not json_too_deep((b"[" * 64 + b"]" * 64) * 250_000)  # 32 MB of worst case
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
@pytest.mark.parametrize("ndjson", [False, True])
def test_deep_batches_are_refused_as_a_whole(depth, ndjson):
    for body in (b"[" * depth + b"]" * depth, b'[{"attributes":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}]"):
        for decode in (decode_interactions, decode_accounts):
            with pytest.raises(NestedTooDeep):
                decode(body, ndjson=ndjson)


@pytest.mark.parametrize("fmt", ["x-v2", "mastodon", "bluesky"])
def test_deep_values_of_an_import_are_bad_records(fmt):
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    for body, field in [(deep + b"\n", "file"), (b"{}\n" + deep + b"\n", "line"), (b"[" + deep + b"]", "item")]:
        refused = outcome([body], fmt)
        assert isinstance(refused, InvalidInput)
        assert any(e.field == field and "nested deeper" in e.message for e in refused.errors), refused.errors
    refused = outcome([b"[" * 100_000], "ndjson")
    assert isinstance(refused, InvalidInput) and refused.errors[0].field == "line"


def test_a_json_array_of_any_length_is_read_in_flat_memory():
    page = json.dumps({"records": [{"uri": "at://did:plc:abc/app.bsky.feed.like/1", "value": {
        "$type": "app.bsky.feed.like", "createdAt": "2024-05-01T10:00:00Z",
        "subject": {"uri": "at://did:plc:xyz/app.bsky.feed.post/1"}}}]}).encode()
    n = 20_000  # 4 MB of array, arriving in small pieces

    def body():
        yield b"[\n"
        for i in range(n):
            yield (b",\n" if i else b"") + page
        yield b"\n]\n"

    tracemalloc.start()
    seen = sum(1 for _ in read_records(body(), "bluesky"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen == n
    assert peak < 1 << 20, peak


@pytest.mark.parametrize("fmt, text", [
    ("snap-higgs", b"1 2 1341100972 RT " + b"x" * 1_000_000 + b"\n"),
    ("bluesky", b'{"records": [], "note": "' + b"a" * 1_000_000 + b'"}\n'),
    ("bluesky", b'[{"records": [], "note": "' + b"a" * 1_000_000 + b'"}]'),
])
def test_a_megabyte_line_sent_a_byte_at_a_time_costs_linear_time(fmt, text):
    # a slow client's body arrives in tiny pieces: gathering them must not copy the line
    # so far once per piece (a million pieces of a 1 MB line would be 500 GB of copying)
    start = time.perf_counter()
    outcome((text[i : i + 1] for i in range(len(text))), fmt, ReadLimits(max_line_bytes=2 << 20))
    assert time.perf_counter() - start < 3
