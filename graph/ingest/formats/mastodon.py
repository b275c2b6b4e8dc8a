"""Mastodon REST API statuses, plus follows in a shape of castlegate's own.

References: Status https://docs.joinmastodon.org/entities/Status/,
Account https://docs.joinmastodon.org/entities/Account/,
Quote https://docs.joinmastodon.org/entities/Quote/

Accepted: a JSON array of Status entities (a timeline page, as ``GET /api/v1/timelines/*``
or ``GET /api/v1/accounts/:id/statuses`` return it), NDJSON of statuses, or one status;
and, anywhere among them, follow lists::

    {"follows": [{"source": "alice@mastodon.social", "target": "bob@fosstodon.org",
                  "at": "2024-05-02T09:00:00Z"}]}

Mastodon's API has no time for a follow, so ``at`` is required: the file's modification
time would change when the file is copied, and re-imports would stop being duplicates.

Accounts are named by their full ``acct``, ``user@host`` in lower case (both parts are
case-insensitive in Mastodon), and not by the ``id`` of the REST API: that id is local
to the instance that served the file, so the same person has another id on every
instance, and the file does not say which instance served it. ``acct`` is what WebFinger
resolves and is the same whichever instance is asked. For an account local to the
serving instance ``acct`` is a bare username; the host is then taken from the account's
profile ``url`` (for instances that serve accounts from another domain than their
WebFinger domain this host differs from the one other instances use). A reply names its
target only by local id (``in_reply_to_account_id``): it is resolved through the
accounts the file shows (authors, boosted and quoted authors, mentions) - all statuses of
a file must therefore come from one instance - and a reply whose target appears nowhere
in the file is an error.

Each top-level status makes, with its author as source and post = its ``uri``:

- a boost (``reblog`` set): ``mastodon:<uri>:repost`` of the boosted status's author,
  object = the boosted status's ``uri``. Nothing else: the boosted status's mentions are
  its author's, not the booster's;
- a reply: ``mastodon:<uri>:reply``; in_reply_to = the parent's ``uri`` when the parent is
  in the file (the API gives only its local id);
- an accepted quote (Mastodon 4.5+): ``mastodon:<uri>:quote``, object = the quoted ``uri``;
- each mentioned account: ``mastodon:<uri>:mention:<acct>``, except the account replied
  to, whose @name Mastodon's clients insert in every reply by themselves.

Follows are ``mastodon:<source>:follow:<target>``: one follow per pair, so importing the
same pair again with another ``at`` is a conflict, not a second follow. Nested statuses
(boosted, quoted) only provide accounts and targets; import them as top-level statuses
to get their own interactions. Accounts carry ``@acct`` handles and ``followers_count``.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import msgspec

from graph.errors import FieldError
from graph.ingest.formats.native import AccountBook, build, field_error, join_path
from graph.model import Account, Followers, Id, Interaction, Kind, Text, Timestamp

__all__ = ["parse"]

PLATFORM = "mastodon"


class _Account(msgspec.Struct):
    id: Id
    acct: Text
    url: Text | None = None
    followers_count: Followers | None = None


class _Mention(msgspec.Struct):
    id: Id
    acct: Text
    url: Text | None = None
    # a Mention has no follower count; the field makes it read like an _Account
    followers_count: None = None


class _Status(msgspec.Struct):
    id: Id
    uri: Text
    created_at: Timestamp
    account: _Account
    in_reply_to_id: Id | None = None
    in_reply_to_account_id: Id | None = None
    reblog: _Status | None = None
    mentions: list[_Mention] = []
    quote: _Quote | None = None


class _Quote(msgspec.Struct):
    state: str
    quoted_status: _Status | None = None
    # the "ShallowQuote" form, which names the quoted status by local id only
    quoted_status_id: Id | None = None


class _Follow(msgspec.Struct):
    source: Text
    target: Text
    at: Timestamp


class _Follows(msgspec.Struct):
    # converted one by one below, to name every bad follow
    follows: list[Any]


def parse(values: Iterable[tuple[int, Any]]) -> Iterator[Account | Interaction | FieldError]:
    statuses: list[tuple[int, _Status]] = []
    follows: list[tuple[int, str, _Follow]] = []
    for index, value in values:
        is_follows = isinstance(value, dict) and "follows" in value
        try:
            item = msgspec.convert(value, _Follows if is_follows else _Status)
        except msgspec.ValidationError as e:
            yield field_error(e, index)
            continue
        if isinstance(item, _Status):
            statuses.append((index, item))
            continue
        for i, raw in enumerate(item.follows):
            try:
                follows.append((index, f"follows[{i}]", msgspec.convert(raw, _Follow)))
            except msgspec.ValidationError as e:
                yield field_error(e, index, f"follows[{i}]")

    book = AccountBook()
    accts: dict[str, str] = {}  # local account id -> acct
    by_id: dict[str, _Status] = {}
    for index, top in statuses:
        for path, status in _nested("", top):
            by_id[status.id] = status
            yield from _learn(book, accts, status.account, index, join_path(path, "account"))
            for i, m in enumerate(status.mentions):
                yield from _learn(book, accts, m, index, join_path(path, f"mentions[{i}]"))

    yield from book.accounts()
    for index, status in statuses:
        yield from _interactions(status, accts, by_id, index)
    for index, path, follow in follows:
        yield _follow(follow, index, path)


def _nested(path: str, status: _Status) -> Iterator[tuple[str, _Status]]:
    yield path, status
    if status.reblog is not None:
        yield from _nested(join_path(path, "reblog"), status.reblog)
    if status.quote is not None and status.quote.quoted_status is not None:
        yield from _nested(join_path(path, "quote.quoted_status"), status.quote.quoted_status)


def _learn(
    book: AccountBook, accts: dict[str, str], who: _Account | _Mention, index: int, path: str
) -> Iterator[FieldError]:
    full = _full_acct(who.acct, who.url)
    if full is None:
        yield FieldError(join_path(path, "url"), f"no host for local account {who.acct!r}", index)
        return
    accts[who.id] = full.lower()
    book.add(full.lower(), handle=f"@{full}", platform=PLATFORM, followers=who.followers_count)


def _full_acct(acct: str, url: str | None) -> str | None:
    acct = acct.lstrip("@")
    if "@" in acct:
        return acct
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:  # e.g. a broken IPv6 literal
        host = None
    return f"{acct}@{host}" if host else None


def _interactions(
    s: _Status, accts: dict[str, str], by_id: dict[str, _Status], index: int
) -> Iterator[Interaction | FieldError]:
    # an account missing from ``accts`` had no host, which was reported already
    source = accts.get(s.account.id)
    if source is None:
        return

    def made(kind: Kind, suffix: str, target: str | None, **fields: Any) -> Iterator[Interaction]:
        if target is not None:
            yield build(
                Interaction,
                {"id": f"mastodon:{s.uri}:{suffix}", "kind": kind, "source": source,
                 "target": target, "at": s.created_at, "platform": PLATFORM, **fields},
                index,
            )

    if s.reblog is not None:
        yield from made(Kind.REPOST, "repost", accts.get(s.reblog.account.id), object=s.reblog.uri)
        return

    reply_target = None
    if s.in_reply_to_account_id is not None:
        reply_target = accts.get(s.in_reply_to_account_id)
        if reply_target is None:
            yield FieldError(
                "in_reply_to_account_id",
                f"account {s.in_reply_to_account_id} appears nowhere else in the file, so its "
                "acct is unknown; include a status of it, or a mention of it",
                index,
            )
        parent = by_id.get(s.in_reply_to_id or "")
        yield from made(Kind.REPLY, "reply", reply_target, post=s.uri,
                        in_reply_to=parent.uri if parent else None)

    quoted = _quoted(s, by_id)
    if quoted is not None:
        target = accts.get(quoted.account.id)
        yield from made(Kind.QUOTE, "quote", target, post=s.uri, object=quoted.uri)

    for acct in dict.fromkeys(accts[m.id] for m in s.mentions if m.id in accts):
        if acct != reply_target:
            yield from made(Kind.MENTION, f"mention:{acct}", acct, post=s.uri)


def _quoted(s: _Status, by_id: dict[str, _Status]) -> _Status | None:
    # pending, rejected, revoked or deleted quotes are not shown by Mastodon: no quote
    if s.quote is None or s.quote.state != "accepted":
        return None
    return s.quote.quoted_status or by_id.get(s.quote.quoted_status_id or "")


def _follow(f: _Follow, index: int, path: str) -> Interaction | FieldError:
    source, target = _full_acct(f.source, None), _full_acct(f.target, None)
    if source is None or target is None:
        side = "source" if source is None else "target"
        return FieldError(f"{path}.{side}", "expected a full acct, user@host", index)
    source, target = source.lower(), target.lower()
    return build(
        Interaction,
        {"id": f"mastodon:{source}:follow:{target}", "kind": Kind.FOLLOW, "source": source,
         "target": target, "at": f.at, "platform": PLATFORM},
        index,
        path,
    )
