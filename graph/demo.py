"""A small built-in demo network, generated in code (no download), deterministic per seed.

What it contains, so that every castlegate feature has something to find:

- three conversational communities (``north``, ``south``, ``east``) of 24 accounts each:
  reciprocated replies and quotes inside, mentions, and follows mostly inside;
- one closed amplification circle (``pod``) of 12 accounts that repost the same posts of
  one ``pod-star`` within seconds of each other, many times, and barely converse;
- two bridging accounts (``bridge-ns``, ``bridge-se``) that converse in two communities.

Example
-------
>>> accounts, interactions = demo_network()
>>> len({a.id for a in accounts}) == len(accounts)
True
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from graph.model import Account, Interaction, Kind

__all__ = ["DEMO_GRAPH", "demo_network"]

DEMO_GRAPH = "demo"
_START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def demo_network(seed: int = 7) -> tuple[list[Account], list[Interaction]]:
    """Returns ``(accounts, interactions)`` of the demo network; same seed, same network."""
    rng = random.Random(seed)
    communities = {c: [f"{c}-{i:02d}" for i in range(24)] for c in ("north", "south", "east")}
    pod = [f"pod-{i:02d}" for i in range(12)]
    bridges = {"bridge-ns": ("north", "south"), "bridge-se": ("south", "east")}

    accounts: list[Account] = []
    for c, members in communities.items():
        for m in members:
            accounts.append(
                Account(
                    id=m,
                    handle=f"@{m}",
                    platform="demo",
                    followers=rng.randint(80, 2500),
                    attributes={"community": c},
                )
            )
    for m in pod:
        accounts.append(
            Account(id=m, handle=f"@{m}", platform="demo", followers=rng.randint(20000, 90000),
                    attributes={"community": "pod"})
        )
    accounts.append(
        Account(id="pod-star", handle="@pod-star", platform="demo", followers=150000,
                attributes={"community": "pod"})
    )
    for b in bridges:
        accounts.append(Account(id=b, handle=f"@{b}", platform="demo", followers=900,
                                attributes={"community": "bridge"}))

    out: list[Interaction] = []
    clock = [_START]

    def add(kind: Kind, s: str, t: str, **kw) -> Interaction:
        clock[0] += timedelta(seconds=rng.randint(30, 900))
        it = Interaction(id=f"demo-{len(out):05d}", kind=kind, source=s, target=t,
                         at=clock[0], platform="demo", **kw)
        out.append(it)
        return it

    def converse(a: str, b: str) -> None:
        first = add(Kind.REPLY, a, b, post=f"p-{len(out)}", in_reply_to=f"p-{b}-root",
                    conversation=f"c-{a}-{b}")
        add(Kind.REPLY, b, a, post=f"p-{len(out)}", in_reply_to=first.post,
            conversation=f"c-{a}-{b}")

    for c, members in communities.items():
        for m in members:
            for other in rng.sample([x for x in members if x != m], 5):
                add(Kind.FOLLOW, m, other)
            for other in rng.sample([x for x in members if x != m], 2):
                converse(m, other)
            add(Kind.QUOTE, m, rng.choice(members[:4]), post=f"q-{len(out)}",
                object=f"post-{rng.choice(members[:4])}")
            add(Kind.MENTION, m, rng.choice([x for x in members if x != m]))
        # a little cross-community listening, as in any real network
        others = [x for k, v in communities.items() if k != c for x in v]
        for m in rng.sample(members, 4):
            add(Kind.FOLLOW, m, rng.choice(others))

    for b, (c1, c2) in bridges.items():
        for c in (c1, c2):
            for other in rng.sample(communities[c], 6):
                converse(b, other)
                add(Kind.FOLLOW, b, other)
                add(Kind.FOLLOW, other, b)

    # the pod: every post of pod-star is reposted by all twelve within a minute
    for n in range(20):
        obj = f"pod-star-post-{n:02d}"
        clock[0] += timedelta(hours=6)
        t0 = clock[0]
        for i, m in enumerate(rng.sample(pod, len(pod))):
            out.append(Interaction(id=f"demo-{len(out):05d}", kind=Kind.REPOST, source=m,
                                   target="pod-star", at=t0 + timedelta(seconds=2 * i + rng.randint(0, 3)),
                                   object=obj, platform="demo"))
    for m in pod:
        add(Kind.FOLLOW, m, "pod-star")
        for other in rng.sample([x for x in pod if x != m], 3):
            add(Kind.REPOST, m, other, object=f"post-{other}")
    return accounts, out
