"""The importers against hand-made fixtures (tests/fixtures/formats), each written from
the platform's public documentation; the expected items are worked out by hand from the
fixture. Plus the real SNAP higgs-twitter activity file where it is available."""

from __future__ import annotations

import gzip
import io
import json
import os
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from graph.errors import FieldError, InvalidInput
from graph.ingest.formats import FORMATS, read_records
from graph.ingest.validate import decode_interactions
from graph.model import Account, Interaction, Kind

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "formats"


def read(name: str | Path, fmt: str) -> tuple[list[Account], list[Interaction]]:
    items = list(read_records(FIXTURES / name, fmt))
    assert all(isinstance(i, (Account, Interaction)) for i in items)
    return [i for i in items if isinstance(i, Account)], [i for i in items if isinstance(i, Interaction)]


def by_id(items: list) -> dict:
    keyed = {i.id: i for i in items}
    assert len(keyed) == len(items), "ids must be unique"
    return keyed


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def it(id: str, kind: str, source: str, target: str, at: str, **fields) -> Interaction:
    return Interaction(id=id, kind=Kind(kind), source=source, target=target, at=utc(at), **fields)


def errors_of(path: Path | str, fmt: str) -> list[FieldError]:
    with pytest.raises(InvalidInput) as caught:
        list(read_records(path, fmt))
    return caught.value.errors


# --------------------------------------------------------------------------- X API v2

X_ADA, X_GRACE, X_ALAN, X_KATHERINE, X_NASA = "x:1298415362", "x:873290425", "x:1420918237", "x:59617002", "x:11348282"
T = {n: f"156000000000000000{n}" for n in range(1, 8)}
X_EXPECTED = [
    # T1 grace: an original tweet mentioning katherine
    it(f"x:{T[1]}:mention:59617002", "mention", X_GRACE, X_KATHERINE, "2022-08-17 18:00:00",
       post=T[1], conversation=T[1], platform="x"),
    # T2 ada replies to grace; X's inserted @grace_h is no mention, @katherine_j is
    it(f"x:{T[2]}:reply", "reply", X_ADA, X_GRACE, "2022-08-17 18:04:12",
       post=T[2], in_reply_to=T[1], conversation=T[1], platform="x"),
    it(f"x:{T[2]}:mention:59617002", "mention", X_ADA, X_KATHERINE, "2022-08-17 18:04:12",
       post=T[2], conversation=T[1], platform="x"),
    # T3 alan retweets T1 (author from includes.tweets); the RT's mentions are grace's
    it(f"x:{T[3]}:repost", "repost", X_ALAN, X_GRACE, "2022-08-17 18:05:30", object=T[1], platform="x"),
    # T4 katherine quotes ada's T2 and mentions alan
    it(f"x:{T[4]}:quote", "quote", X_KATHERINE, X_ADA, "2022-08-17 18:10:00",
       post=T[4], object=T[2], conversation=T[4], platform="x"),
    it(f"x:{T[4]}:mention:1420918237", "mention", X_KATHERINE, X_ALAN, "2022-08-17 18:10:00",
       post=T[4], conversation=T[4], platform="x"),
    # T5 grace replies to ada (whose @ada_l X inserted)
    it(f"x:{T[5]}:reply", "reply", X_GRACE, X_ADA, "2022-08-17 18:12:45",
       post=T[5], in_reply_to=T[2], conversation=T[1], platform="x"),
    # T6 ada retweets a NASA tweet absent from includes.tweets: target from "RT @NASA"
    it(f"x:{T[6]}:repost", "repost", X_ADA, X_NASA, "2022-08-17 18:20:00",
       object="1559999999999999990", platform="x"),
    # T7 alan quotes a deleted tweet (listed in errors: no quote); @ghost_user_404 has no id
    it(f"x:{T[7]}:mention:873290425", "mention", X_ALAN, X_GRACE, "2022-08-17 18:30:00",
       post=T[7], conversation=T[7], platform="x"),
]
X_ACCOUNTS = [
    Account(id=X_GRACE, handle="@grace_h", platform="x", followers=48210),
    Account(id=X_ADA, handle="@ada_l", platform="x", followers=1520),
    Account(id=X_ALAN, handle="@alan_t", platform="x", followers=310),
    Account(id=X_KATHERINE, handle="@katherine_j", platform="x", followers=7700),
    Account(id=X_NASA, handle="@NASA", platform="x", followers=78000000),
]


def test_x_v2_page_yields_exactly_these_9_interactions_and_5_accounts():
    accounts, interactions = read("x_v2_page.json", "x-v2")
    assert by_id(interactions) == by_id(X_EXPECTED)
    assert by_id(accounts) == by_id(X_ACCOUNTS)


def _x_pages() -> list[dict]:
    """The fixture cut into two pages, each with the includes it needs."""
    page = json.loads((FIXTURES / "x_v2_page.json").read_text())
    first, second = dict(page), dict(page)
    first["data"], second["data"] = page["data"][:3], page["data"][3:]
    del first["errors"]
    return [first, second]


@pytest.mark.parametrize("framing", ["array", "ndjson", "ndjson.gz"])
def test_x_v2_reads_arrays_and_ndjson_of_pages(tmp_path, framing):
    pages = _x_pages()
    body = (json.dumps(pages) if framing == "array" else "\n".join(map(json.dumps, pages))).encode()
    path = tmp_path / f"pages.{framing}"
    path.write_bytes(gzip.compress(body) if framing.endswith(".gz") else body)
    accounts, interactions = read(path, "x-v2")
    assert by_id(interactions) == by_id(X_EXPECTED)
    assert by_id(accounts) == by_id(X_ACCOUNTS)


def test_x_v2_reads_ndjson_of_bare_tweets(tmp_path):
    tweets = json.loads((FIXTURES / "x_v2_page.json").read_text())["data"][:6]
    path = tmp_path / "tweets.ndjson"
    path.write_text("\n".join(map(json.dumps, tweets)))
    accounts, interactions = read(path, "x-v2")
    # referenced authors come from the tweets of the file themselves
    assert by_id(interactions) == by_id(X_EXPECTED[:8])
    # no includes.users: accounts are known by their mentions only, without followers
    assert {a.id: (a.handle, a.followers) for a in accounts} == {
        X_KATHERINE: ("@katherine_j", None), X_GRACE: ("@grace_h", None),
        X_ALAN: ("@alan_t", None), X_ADA: ("@ada_l", None), X_NASA: ("@NASA", None),
    }


def test_x_v2_quote_without_the_expansion_names_the_tweet(tmp_path):
    page = {"data": [{"id": "20", "author_id": "1", "created_at": "2022-08-17T18:00:00.000Z",
                      "referenced_tweets": [{"type": "quoted", "id": "10"}]},
                     {"id": "21", "author_id": "1", "text": "no created_at"}]}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    errors = errors_of(path, "x-v2")
    assert [(e.field, e.index) for e in errors] == [("data[1].created_at", 0), ("data[0].referenced_tweets", 0)]
    assert "expansions=referenced_tweets.id" in errors[1].message


# ----------------------------------------------------------------------------- Mastodon

ALICE, BOB, CAROL, DAVE = "alice@mastodon.social", "bob@fosstodon.org", "carol@hachyderm.io", "dave@mastodon.social"
S1 = "https://fosstodon.org/users/bob/statuses/112379998877665544"
S2 = "https://mastodon.social/users/alice/statuses/112380000000000002"
S3 = "https://hachyderm.io/users/Carol/statuses/112380011223344556/activity"
S4 = "https://mastodon.social/users/alice/statuses/112380000000000004"
S5 = "https://fosstodon.org/users/bob/statuses/112380044556677889"
S6 = "https://hachyderm.io/users/Carol/statuses/112380099887766554"
M = {"platform": "mastodon"}
MASTODON_EXPECTED = [
    # bob mentions dave, local to the serving instance: host from his profile url
    it(f"mastodon:{S1}:mention:{DAVE}", "mention", BOB, DAVE, "2024-05-02 08:00:00", post=S1, **M),
    # alice replies to bob (parent in the file: in_reply_to is its uri) and mentions carol
    it(f"mastodon:{S2}:reply", "reply", ALICE, BOB, "2024-05-02 08:03:10", post=S2, in_reply_to=S1, **M),
    it(f"mastodon:{S2}:mention:{CAROL}", "mention", ALICE, CAROL, "2024-05-02 08:03:10", post=S2, **M),
    # carol boosts alice's reply
    it(f"mastodon:{S3}:repost", "repost", CAROL, ALICE, "2024-05-02 08:05:00", object=S2, **M),
    # alice replies to dave's status, which is not in the file: no in_reply_to
    it(f"mastodon:{S4}:reply", "reply", ALICE, DAVE, "2024-05-02 08:10:00", post=S4, **M),
    # bob quotes alice (accepted quote)
    it(f"mastodon:{S5}:quote", "quote", BOB, ALICE, "2024-05-02 09:00:00", post=S5, object=S2, **M),
    # carol's quote was revoked: only her mention of alice
    it(f"mastodon:{S6}:mention:{ALICE}", "mention", CAROL, ALICE, "2024-05-02 09:30:00", post=S6, **M),
    # follows; "+02:00" becomes UTC and "@Carol@hachyderm.io" her lower-case acct
    it(f"mastodon:{ALICE}:follow:{BOB}", "follow", ALICE, BOB, "2024-05-01 12:00:00", **M),
    it(f"mastodon:{CAROL}:follow:{ALICE}", "follow", CAROL, ALICE, "2024-05-01 11:30:00", **M),
]
MASTODON_ACCOUNTS = [
    Account(id=ALICE, handle="@alice@mastodon.social", platform="mastodon", followers=812),
    Account(id=BOB, handle="@bob@fosstodon.org", platform="mastodon", followers=2304),
    Account(id=CAROL, handle="@Carol@hachyderm.io", platform="mastodon", followers=95),
    Account(id=DAVE, handle="@dave@mastodon.social", platform="mastodon"),
]


def test_mastodon_statuses_yield_exactly_these_9_interactions_and_4_accounts():
    accounts, interactions = read("mastodon_statuses.json", "mastodon")
    assert by_id(interactions) == by_id(MASTODON_EXPECTED)
    assert by_id(accounts) == by_id(MASTODON_ACCOUNTS)


def test_mastodon_reads_ndjson(tmp_path):
    values = json.loads((FIXTURES / "mastodon_statuses.json").read_text())
    path = tmp_path / "statuses.ndjson"
    path.write_text("\n".join(map(json.dumps, values)) + "\n")
    accounts, interactions = read(path, "mastodon")
    assert by_id(interactions) == by_id(MASTODON_EXPECTED)
    assert by_id(accounts) == by_id(MASTODON_ACCOUNTS)


def test_mastodon_names_unresolvable_replies_and_follows_without_time(tmp_path):
    values = json.loads((FIXTURES / "mastodon_statuses.json").read_text())
    orphan = dict(values[3], in_reply_to_account_id="999", mentions=[])
    follows = {"follows": [{"source": ALICE, "target": BOB}, {"source": "alice", "target": BOB, "at": "2024-05-01T12:00:00Z"}]}
    path = tmp_path / "statuses.json"
    path.write_text(json.dumps([values[0], orphan, follows]))
    errors = errors_of(path, "mastodon")
    assert [(e.field, e.index) for e in errors] == [
        ("follows[0].at", 2), ("in_reply_to_account_id", 1), ("follows[1].source", 2),
    ]


# ------------------------------------------------------------------------------ Bluesky

B_ALICE, B_BOB = "did:plc:alicezq5xk2m3n4p5r6s7t7u", "did:plc:bobbyw4vyk7dqd2q3fzmb5jz"
B_CAROL, B_DAN = "did:web:carol.example.com", "did:plc:dannyq2xz6b3ocjv7hw4kfzn"
P1, P2, P3 = (f"at://{B_ALICE}/app.bsky.feed.post/{k}" for k in ("3kq2ahfdz5s2a", "3kq2ajk4mbw2b", "3kq2alm6ncx2c"))
BOB_ROOT = f"at://{B_BOB}/app.bsky.feed.post/3kq27xyzab22c"
CAROL_POST = f"at://{B_CAROL}/app.bsky.feed.post/3kq26abcde42d"
DAN_POST = f"at://{B_DAN}/app.bsky.feed.post/3kq25mnopq62e"
REPOST = f"at://{B_BOB}/app.bsky.feed.repost/3kq2bqrs7tu2f"
LIKE1, LIKE2 = (f"at://{B_CAROL}/app.bsky.feed.like/{k}" for k in ("3kq2cabc2de2g", "3kq2cfgh3ij2h"))
FOLLOW1, FOLLOW2 = (f"at://{B_DAN}/app.bsky.graph.follow/{k}" for k in ("3kpzz4lmn5o2i", "3kpzz7pqr6s2j"))
B = {"platform": "bluesky"}
BLUESKY_EXPECTED = [
    # P1: alice replies to bob's thread root and mentions dan
    it(f"{P1}:reply", "reply", B_ALICE, B_BOB, "2024-03-10 09:15:00",
       post=P1, in_reply_to=BOB_ROOT, conversation=BOB_ROOT, **B),
    it(f"{P1}:mention:{B_DAN}", "mention", B_ALICE, B_DAN, "2024-03-10 09:15:00",
       post=P1, conversation=BOB_ROOT, **B),
    # P2: a quote (app.bsky.embed.record) of carol; createdAt "11:00+01:00" is 10:00 UTC
    it(f"{P2}:quote", "quote", B_ALICE, B_CAROL, "2024-03-10 10:00:00",
       post=P2, object=CAROL_POST, conversation=P2, **B),
    # P3: a quote with media (recordWithMedia) of dan, mentioning bob
    it(f"{P3}:quote", "quote", B_ALICE, B_DAN, "2024-03-10 11:30:00",
       post=P3, object=DAN_POST, conversation=P3, **B),
    it(f"{P3}:mention:{B_BOB}", "mention", B_ALICE, B_BOB, "2024-03-10 11:30:00",
       post=P3, conversation=P3, **B),
    # (P4 has only link and tag facets and an external embed: nothing)
    it(f"{REPOST}:repost", "repost", B_BOB, B_ALICE, "2024-03-10 10:20:00", object=P2, **B),
    it(f"{LIKE1}:like", "like", B_CAROL, B_ALICE, "2024-03-10 13:00:00", object=P1, **B),
    it(f"{LIKE2}:like", "like", B_CAROL, B_BOB, "2024-03-10 13:05:00", object=BOB_ROOT, **B),
    it(f"{FOLLOW1}:follow", "follow", B_DAN, B_ALICE, "2024-02-28 19:45:00", **B),
    it(f"{FOLLOW2}:follow", "follow", B_DAN, B_CAROL, "2024-03-01 08:00:00", **B),
    # (the app.bsky.actor.profile page is no interaction)
]


def test_bluesky_pages_yield_exactly_these_10_interactions_and_no_accounts():
    accounts, interactions = read("bluesky_pages.json", "bluesky")
    assert by_id(interactions) == by_id(BLUESKY_EXPECTED)
    assert accounts == []


@pytest.mark.parametrize("framing", ["one page", "ndjson of pages"])
def test_bluesky_reads_one_page_and_ndjson_of_pages(tmp_path, framing):
    pages = json.loads((FIXTURES / "bluesky_pages.json").read_text())
    path = tmp_path / "records.json"
    if framing == "one page":
        pages = pages[:1]
        path.write_text(json.dumps(pages[0]))
    else:
        path.write_text("\n".join(map(json.dumps, pages)))
    _, interactions = read(path, "bluesky")
    assert by_id(interactions) == by_id(BLUESKY_EXPECTED[: 5 if framing == "one page" else None])


def test_bluesky_refuses_handles_where_a_did_belongs(tmp_path):
    page = {"records": [
        {"uri": "at://alice.bsky.social/app.bsky.feed.like/3kq2cabc2de2g", "cid": "x",
         "value": {"$type": "app.bsky.feed.like", "createdAt": "2024-03-10T13:00:00Z", "subject": {"uri": P1, "cid": "y"}}},
        {"uri": REPOST, "cid": "x",
         "value": {"$type": "app.bsky.feed.repost", "createdAt": "2024-03-10T13:00:00Z",
                   "subject": {"uri": "at://alice.bsky.social/app.bsky.feed.post/3kq2ahfdz5s2a", "cid": "y"}}},
        {"uri": REPOST, "cid": "x", "value": {"$type": "app.bsky.feed.repost", "subject": {"uri": P1, "cid": "y"}}},
    ]}
    path = tmp_path / "records.json"
    path.write_text(json.dumps(page))
    assert [(e.field, e.index) for e in errors_of(path, "bluesky")] == [
        ("records[0].uri", 0), ("records[1].value.subject.uri", 0), ("records[2].value.createdAt", 0),
    ]


# ------------------------------------------------------------------ castlegate's own

NATIVE_EXPECTED = [
    it("e1", "reply", "ana", "ben", "2025-03-01 10:00:00", post="p2", in_reply_to="p1", conversation="p1", platform="x"),
    # "12:30:00+02:00" is 10:30 UTC
    it("e2", "repost", "ben", "ana", "2025-03-01 10:30:00", object="https://x.com/ana/status/p2", platform="x"),
    it("e3", "follow", "cem", "ana", "2025-03-01 10:45:00.250"),
]


def test_native_ndjson_yields_accounts_and_interactions():
    accounts, interactions = read("native.ndjson", "ndjson")
    assert interactions == NATIVE_EXPECTED
    assert accounts == [
        Account(id="ana", handle="@ana", platform="x", followers=1200),
        Account(id="ben", handle="@ben", platform="x", followers=85, attributes={"community": "north"}),
    ]


def test_native_ndjson_follows_the_api_rules():
    lines = (FIXTURES / "native.ndjson").read_bytes().splitlines()
    body = b"\n".join(ln.replace(b'"type": "interaction", ', b"") for ln in lines if b'"account"' not in ln)
    assert decode_interactions(body, ndjson=True) == read("native.ndjson", "ndjson")[1]


def test_native_csv_yields_interactions():
    accounts, interactions = read("native.csv", "csv")
    assert accounts == []
    assert interactions == [
        NATIVE_EXPECTED[0],
        it("e2", "repost", "ben", "ana", "2025-03-01 10:30:00", object="https://example.org/p?id=2,3", platform="x"),
        it("e3", "mention", "cem", "ana", "2025-03-01 10:45:00.250", post="p9"),
    ]


def test_native_csv_header_must_name_interaction_fields(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,kind,source,when\ne1,reply,ana,2025-03-01T10:00:00Z\n")
    assert [(e.field, e.message, e.index) for e in errors_of(path, "csv")] == [
        ("when", "unknown column; expected some of id, kind, source, target, at, post, in_reply_to,"
         " object, conversation, platform", 0),
        ("target", "required column is missing", 0),
        ("at", "required column is missing", 0),
    ]


# -------------------------------------------------------------------------- SNAP higgs

def test_snap_higgs_excerpt():
    accounts, interactions = read("higgs_excerpt.txt", "snap-higgs")
    assert accounts == []
    assert len(by_id(interactions)) == 20
    assert Counter(i.kind for i in interactions) == {Kind.MENTION: 9, Kind.REPOST: 7, Kind.REPLY: 4}
    assert interactions[0] == it("higgs:223789:MT:213163:1341100972", "mention", "higgs:223789",
                                 "higgs:213163", "2012-07-01 00:02:52", platform="higgs")
    assert interactions[2] == it("higgs:376989:RT:50329:1341101181", "repost", "higgs:376989",
                                 "higgs:50329", "2012-07-01 00:06:21", platform="higgs")
    assert interactions[-2] == it("higgs:9901:RE:204:1341102450", "reply", "higgs:9901",
                                  "higgs:204", "2012-07-01 00:27:30", platform="higgs")
    assert [i.id for i in interactions if i.source == i.target] == [
        "higgs:8:MT:8:1341101250", "higgs:50329:RT:50329:1341101622",
    ]


# ---------------------------------------------------------------- every format alike

ALL_FIXTURES = [
    ("x_v2_page.json", "x-v2"), ("mastodon_statuses.json", "mastodon"),
    ("bluesky_pages.json", "bluesky"), ("native.ndjson", "ndjson"), ("native.csv", "csv"),
    ("higgs_excerpt.txt", "snap-higgs"),
]


@pytest.mark.parametrize(("name", "fmt"), ALL_FIXTURES)
def test_rereading_yields_identical_items_in_utc(name, fmt):
    first, second = list(read_records(FIXTURES / name, fmt)), list(read_records(FIXTURES / name, fmt))
    assert first == second
    interactions = [i for i in first if isinstance(i, Interaction)]
    assert [i.digest() for i in interactions] == [i.digest() for i in second if isinstance(i, Interaction)]
    assert all(i.at.tzinfo is timezone.utc for i in interactions)


@pytest.mark.parametrize(("name", "fmt"), ALL_FIXTURES)
def test_gzip_and_streams_read_like_the_plain_file(tmp_path, name, fmt):
    plain = list(read_records(FIXTURES / name, fmt))
    packed = tmp_path / f"{name}.gz"
    packed.write_bytes(gzip.compress((FIXTURES / name).read_bytes()))
    assert list(read_records(packed, fmt)) == plain
    assert list(read_records(str(packed), fmt)) == plain
    stream = io.BytesIO(packed.read_bytes())
    assert list(read_records(stream, fmt)) == plain
    assert not stream.closed, "a caller's stream is the caller's to close"


def test_formats_are_described():
    assert set(FORMATS) == {"ndjson", "csv", "x-v2", "mastodon", "bluesky", "snap-higgs", "edgelist",
                            "edgelist-timed", "conover", "gml", "graphml", "gexf", "gephi-csv"}
    assert all(spec.description and "\n" not in spec.description for spec in FORMATS.values())


def test_unknown_format_is_refused_at_once_listing_the_known_ones():
    with pytest.raises(ValueError) as caught:
        read_records(FIXTURES / "native.ndjson", "twitter-v1")
    assert "'twitter-v1'" in str(caught.value)
    assert all(name in str(caught.value) for name in FORMATS)


# ------------------------------------------------------------------------- bad files

def test_broken_ndjson_names_each_bad_line():
    assert errors_of(FIXTURES / "native_broken.ndjson", "ndjson") == [
        FieldError("kind", "Invalid enum value 'boost'", 1),
        FieldError("line", "malformed JSON: Input data was truncated", 2),
        FieldError("target", "Object missing required field `target`", 3),
    ]


def test_broken_csv_names_the_bad_kind_and_timestamps():
    assert errors_of(FIXTURES / "native_broken.csv", "csv") == [
        FieldError("kind", "Invalid enum value 'boost'", 2),
        FieldError("at", "Invalid RFC3339 encoded datetime", 3),
        FieldError("at", "Expected `datetime` with a timezone component", 4),
    ]


def test_broken_snap_names_each_bad_line():
    assert [(e.field, e.index) for e in errors_of(FIXTURES / "higgs_broken.txt", "snap-higgs")] == [
        ("type", 1), ("line", 2), ("userB", 3), ("unix_ts", 4),
    ]


def test_nothing_is_yielded_after_the_first_bad_record():
    seen = []
    with pytest.raises(InvalidInput):
        for item in read_records(FIXTURES / "native_broken.ndjson", "ndjson"):
            seen.append(item.id)
    assert seen == ["e1"]


def test_errors_are_listed_up_to_100(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("1 2 1341100972 XX\n" * 250)
    errors = errors_of(path, "snap-higgs")
    assert len(errors) == 100
    assert [e.index for e in errors] == list(range(100))


@pytest.mark.parametrize("fmt", ["x-v2", "mastodon", "bluesky"])
def test_malformed_json_document_is_one_error(tmp_path, fmt):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"data": [\n')
    [error] = errors_of(path, fmt)
    assert (error.field, error.index) == ("file", None)
    assert error.message.startswith("malformed JSON")


def test_malformed_ndjson_line_of_a_document_format_is_named(tmp_path):
    pages = json.loads((FIXTURES / "bluesky_pages.json").read_text())
    path = tmp_path / "pages.ndjson"
    path.write_text(json.dumps(pages[0]) + "\n\n" + '{"records": [' + "\n")
    assert [(e.field, e.index) for e in errors_of(path, "bluesky")] == [("line", 2)]


# ------------------------------------------------------------------ the real dataset

DATASETS = Path(os.environ.get("CASTLEGATE_DATASETS", ROOT.parent / "shared" / "datasets"))
HIGGS = DATASETS / "higgs-twitter" / "higgs-activity_time.txt.gz"


@pytest.mark.datasets
def test_real_higgs_activity_file():
    if not HIGGS.exists():
        reason = f"{HIGGS} is absent (set CASTLEGATE_DATASETS to the folder holding higgs-twitter/)"
        if os.environ.get("CASTLEGATE_REQUIRE_DATASETS") == "1":
            pytest.fail(f"CASTLEGATE_REQUIRE_DATASETS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    start = time.perf_counter()
    kinds: Counter[Kind] = Counter()
    ids: set[str] = set()
    accounts: set[str] = set()
    first = last = None
    self_loops = 0
    for item in read_records(HIGGS, "snap-higgs"):
        kinds[item.kind] += 1
        ids.add(item.id)
        accounts.add(item.source)
        accounts.add(item.target)
        self_loops += item.source == item.target
        first = item.at if first is None or item.at < first else first
        last = item.at if last is None or item.at > last else last
    seconds = time.perf_counter() - start

    assert sum(kinds.values()) == 563_069
    assert kinds == {Kind.REPOST: 354_930, Kind.MENTION: 171_237, Kind.REPLY: 36_902}
    assert len(ids) == 563_069
    assert len(accounts) == 304_691
    assert self_loops == 7_588
    assert (first, last) == (utc("2012-07-01 00:02:52"), utc("2012-07-07 23:59:53"))
    # about 1 s here on one core; the margin is for busy CI machines
    assert seconds < 20, f"parsing took {seconds:.1f} s"
