"""X (Twitter) API v2 tweet responses.

References: tweet object https://developer.x.com/en/docs/x-api/data-dictionary/object-model/tweet,
user object https://developer.x.com/en/docs/x-api/data-dictionary/object-model/user,
expansions https://developer.x.com/en/docs/x-api/expansions

Accepted: a response page ``{"data": [tweet, ...] | tweet, "includes": {"users": [...],
"tweets": [...]}, "errors": [...]}`` as one JSON document, a JSON array of pages, or
NDJSON of pages (as twarc2 writes them); a top-level value without ``data`` is read as
one bare tweet. The request needs ``tweet.fields=created_at,author_id,conversation_id,
in_reply_to_user_id,referenced_tweets,entities``, ``expansions=author_id,
referenced_tweets.id,entities.mentions.username`` and ``user.fields=public_metrics``.

Each tweet of ``data`` (not of ``includes``, which are only the far ends of references)
makes, with the author as source:

- a retweet: ``x:<id>:repost`` of the retweeted tweet's author (from ``includes.tweets``,
  else the first mention: a retweet's text begins "RT @author"), object = retweeted id.
  Nothing else: a retweet's mentions are the original author's, not the retweeter's;
- a reply: ``x:<id>:reply`` to ``in_reply_to_user_id``, in_reply_to = replied-to id;
- a quote: ``x:<id>:quote`` of the quoted tweet's author, object = quoted id;
- each mentioned user: ``x:<id>:mention:<user id>``.

Replies, quotes and mentions carry post = the tweet's id and its ``conversation_id``.
Accounts (``x:<user id>``, handle ``@username``, followers) come from ``includes.users``
and from mentions. A reference X listed in the page's ``errors`` as unavailable (deleted
or protected) is skipped; any other reference whose author cannot be found is an error,
since it means the request lacked an expansion.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import msgspec

from graph.errors import FieldError
from graph.ingest.formats.native import AccountBook, build, field_error, join_path
from graph.model import Account, Followers, Id, Interaction, Kind, Text, Timestamp

__all__ = ["parse"]

PLATFORM = "x"


class _Ref(msgspec.Struct):
    type: str
    id: Id


class _Mention(msgspec.Struct):
    # X leaves ``id`` out when the @name matches no account
    id: Id | None = None
    username: Text | None = None


class _Entities(msgspec.Struct):
    mentions: list[_Mention] = []


class _Tweet(msgspec.Struct):
    id: Id
    author_id: Id
    created_at: Timestamp
    conversation_id: Id | None = None
    in_reply_to_user_id: Id | None = None
    referenced_tweets: list[_Ref] = []
    entities: _Entities = msgspec.field(default_factory=_Entities)


class _Included(msgspec.Struct):
    id: Id
    author_id: Id | None = None


class _Metrics(msgspec.Struct):
    followers_count: Followers | None = None


class _User(msgspec.Struct):
    id: Id
    username: Text | None = None
    public_metrics: _Metrics | None = None


class _Includes(msgspec.Struct):
    users: list[_User] = []
    tweets: list[_Included] = []


class _Problem(msgspec.Struct):
    resource_id: str | None = None


class _Envelope(msgspec.Struct):
    """A page without its ``data``, which is converted tweet by tweet to name each bad one."""

    includes: _Includes = msgspec.field(default_factory=_Includes)
    errors: list[_Problem] = []


def parse(values: Iterable[tuple[int, Any]]) -> Iterator[Account | Interaction | FieldError]:
    tweets: list[tuple[int, str, _Tweet]] = []
    authors: dict[str, str] = {}  # tweet id -> author id, over the whole file
    unavailable: set[str] = set()
    book = AccountBook()
    for index, value in values:
        if not isinstance(value, dict):
            yield FieldError("item", "expected a response page or a tweet (a JSON object)", index)
            continue
        if "data" in value:
            rest = {k: v for k, v in value.items() if k != "data"}
            try:
                envelope = msgspec.convert(rest, _Envelope)
            except msgspec.ValidationError as e:
                yield field_error(e, index)
                continue
            data = value["data"]
            raw = [("data", data)] if isinstance(data, dict) else list(_elements("data", data))
        else:
            envelope, raw = _Envelope(), [("", value)]
        for path, item in raw:
            try:
                tweet = msgspec.convert(item, _Tweet)
            except msgspec.ValidationError as e:
                yield field_error(e, index, path)
                continue
            tweets.append((index, path, tweet))
            authors[tweet.id] = tweet.author_id
            for m in tweet.entities.mentions:
                if m.id is not None:
                    book.add(_account(m.id), handle=_handle(m.username), platform=PLATFORM)
        for t in envelope.includes.tweets:
            if t.author_id is not None:
                authors.setdefault(t.id, t.author_id)
        for u in envelope.includes.users:
            followers = u.public_metrics.followers_count if u.public_metrics else None
            book.add(_account(u.id), handle=_handle(u.username), platform=PLATFORM,
                     followers=followers)
        unavailable.update(p.resource_id for p in envelope.errors if p.resource_id)

    yield from book.accounts()
    for index, path, tweet in tweets:
        yield from _interactions(tweet, authors, unavailable, index, path)


def _elements(path: str, data: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(data, list):
        yield from ((f"{path}[{i}]", t) for i, t in enumerate(data))
    else:
        yield path, data  # not a tweet: converting it names the problem


def _interactions(
    t: _Tweet, authors: dict[str, str], unavailable: set[str], index: int, path: str
) -> Iterator[Interaction | FieldError]:
    refs = {r.type: r.id for r in t.referenced_tweets}
    mentioned = list(dict.fromkeys(m.id for m in t.entities.mentions if m.id is not None))

    def made(kind: Kind, suffix: str, target: str, **fields: Any) -> Interaction | FieldError:
        return build(
            Interaction,
            {"id": f"x:{t.id}:{suffix}", "kind": kind, "source": _account(t.author_id),
             "target": _account(target), "at": t.created_at, "platform": PLATFORM, **fields},
            index,
            path,
        )

    def unknown(what: str, tweet_id: str) -> FieldError:
        return FieldError(
            join_path(path, "referenced_tweets"),
            f"the author of {what} tweet {tweet_id} is not in includes.tweets; request "
            "expansions=referenced_tweets.id with tweet.fields=author_id",
            index,
        )

    retweeted = refs.get("retweeted")
    if retweeted is not None:
        target = authors.get(retweeted) or (mentioned[0] if mentioned else None)
        if target is None:
            yield unknown("retweeted", retweeted)
        else:
            yield made(Kind.REPOST, "repost", target, object=retweeted)
        return

    said = {"post": t.id, "conversation": t.conversation_id}
    replied_to = refs.get("replied_to")
    reply_target = t.in_reply_to_user_id or authors.get(replied_to or "")
    if replied_to is not None or reply_target is not None:
        if reply_target is None:
            yield unknown("replied-to", replied_to)
        else:
            yield made(Kind.REPLY, "reply", reply_target, in_reply_to=replied_to, **said)

    quoted = refs.get("quoted")
    if quoted is not None:
        if quoted in authors:
            yield made(Kind.QUOTE, "quote", authors[quoted], object=quoted, **said)
        elif quoted not in unavailable:
            yield unknown("quoted", quoted)

    for user in mentioned:
        # X puts the replied-to @name in front of every reply by itself; counting it as a
        # mention too would double every reply edge in the attention layer
        if user != reply_target:
            yield made(Kind.MENTION, f"mention:{user}", user, **said)


def _account(user_id: str) -> str:
    return f"x:{user_id}"


def _handle(username: str | None) -> str | None:
    return None if username is None else f"@{username}"
