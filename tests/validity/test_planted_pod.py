"""Validity on real networks: a planted pod must be found exactly, and flagged as a castle,
while an equally dense but conversational circle planted next to it must not be.

Real background: CollegeMsg (Panzarasa, Opsahl & Carley 2009; every message read as a reply
event at its real time) for the full pipeline, and the Higgs retweets (De Domenico et al.
2013; real retweet timing, the retweeted account standing in for the object since tweet ids
are not in the data) as a heavy amplification background for the pod detector alone.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graph.analysis.castles import castles
from graph.analysis.engine import get_engine
from graph.analysis.events import Event
from graph.analysis.graph import LayerGraph
from graph.analysis.params import DEFAULT_LAYERS
from graph.analysis.pods import coordinated_pods

pytestmark = pytest.mark.datasets

POD = [f"planted-pod-{i:02d}" for i in range(12)]
TALK = [f"planted-talk-{i:02d}" for i in range(12)]
OBJECTS = 30
TAU, MIN_REPEATS = 10.0, 5


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not in the data sets folder")
    return path


def collegemsg(datasets: Path) -> list[Event]:
    arr = np.loadtxt(_need(datasets / "collegemsg" / "CollegeMsg.txt"), dtype=np.int64)
    return [Event(f"cm{k}", "reply", f"u{s}", f"u{d}", t * 1000, None)
            for k, (s, d, t) in enumerate(arr.tolist())]


def plant_pod(rnd: random.Random, t0: int, t1: int, objects: list[str] | None = None,
              authored: bool = True) -> list[Event]:
    """Twelve accounts that each amplify 30 objects within 8 s of each other and follow
    each other. With ``authored`` the objects are the members' own posts, passed round."""
    out = []
    for k in range(OBJECTS):
        obj = objects[k] if objects else f"planted-post-{k}"
        author = POD[k % len(POD)]
        burst = rnd.randrange(t0, t1)
        for u in POD:
            if authored and u == author:
                continue
            target = author if authored else obj
            out.append(Event(f"pp{k}-{u}", "repost", u, target, burst + rnd.randrange(0, 8000), obj))
    for a in POD:
        for b in POD:
            if a != b:
                out.append(Event(f"pf-{a}-{b}", "follow", a, b, t0, None))
    return out


def plant_talk(rnd: random.Random, t0: int, t1: int, real: list[str]) -> list[Event]:
    """Twelve accounts that reply to each other (every pair, both ways, twice), and a few
    unanswered replies out to real accounts: as dense as the pod, but conversation."""
    out = []
    for a in TALK:
        for b in TALK:
            if a != b:
                for r in range(2):
                    out.append(Event(f"pt-{a}-{b}-{r}", "reply", a, b, rnd.randrange(t0, t1), None))
        for r, b in enumerate(rnd.sample(real, 2)):
            out.append(Event(f"pt-{a}-out{r}", "reply", a, b, rnd.randrange(t0, t1), None))
    return out


def to_graph(events: list[Event]) -> LayerGraph:
    agg: dict[tuple[str, str, str], list[int]] = {}
    for e in events:
        row = agg.get((e.source, e.target, e.kind))
        if row is None:
            agg[(e.source, e.target, e.kind)] = [1, e.at, e.at]
        else:
            row[0] += 1
            row[1] = min(row[1], e.at)
            row[2] = max(row[2], e.at)
    return LayerGraph.from_rows((s, t, k, c, f, l) for (s, t, k), (c, f, l) in agg.items())


def test_planted_pod_in_collegemsg(datasets):
    real = collegemsg(datasets)
    t0 = min(e.at for e in real)
    t1 = max(e.at for e in real)
    accounts = sorted({e.source for e in real} | {e.target for e in real})
    rnd = random.Random(20240405)
    planted = plant_pod(rnd, t0, t1)
    bursts = {}
    for e in planted:
        if e.kind == "repost":
            bursts.setdefault(e.object, e.at)
    # organic amplification: 40 real accounts each repost 1-4 of the pod's posts in the
    # middle of a burst; they co-act with the pod, but fewer than MIN_REPEATS times
    for u in rnd.sample(accounts, 40):
        for obj in rnd.sample(sorted(bursts), rnd.randint(1, 4)):
            author = POD[int(obj.rsplit("-", 1)[1]) % len(POD)]
            planted.append(Event(f"org-{u}-{obj}", "repost", u, author,
                                 bursts[obj] + rnd.randrange(0, 5000), obj))
    # the pod also follows two real accounts each, as real pods do to look ordinary
    for a in POD:
        for b in rnd.sample(accounts, 2):
            planted.append(Event(f"pf-{a}-{b}", "follow", a, b, t0, None))
    planted += plant_talk(rnd, t0, t1, accounts)
    events = real + planted

    # pods: exactly the planted one, precision and recall 1
    res = coordinated_pods(events, tau=TAU, min_repeats=MIN_REPEATS)
    found = {a for p in res.pods for a in p.members}
    truth = set(POD)
    assert len(found & truth) / len(found) == 1.0  # precision
    assert len(found & truth) / len(truth) == 1.0  # recall
    (pod,) = res.pods
    assert pod.members == sorted(POD) and pod.density == 1.0
    assert pod.objects_total == OBJECTS
    # each pair co-acts on every post neither of them wrote: 30 - 3 - 3 or 30 - 2 - 3 ...
    assert min(e.weight for e in pod.edges) >= OBJECTS - 6

    # communities with the engine on the interaction layers, then castles on that partition
    g = to_graph(events)
    engine = get_engine("fast")
    src, dst, w = g.undirected(DEFAULT_LAYERS)
    membership = np.asarray(engine.louvain(g.n, src, dst, w, seed=0))
    pod_comm, n_pod = Counter(membership[[g.index[a] for a in POD]].tolist()).most_common(1)[0]
    talk_comm, n_talk = Counter(membership[[g.index[a] for a in TALK]].tolist()).most_common(1)[0]
    assert n_pod == len(POD) and n_talk == len(TALK) and pod_comm != talk_comm

    result = castles(g, membership.tolist(), engine=engine, null_samples=20, seed=0)
    by = {c.id: c for c in result.communities}
    assert by[pod_comm].castle, by[pod_comm]
    talk = by[talk_comm]
    # the conversational circle is just as closed; its currency is what keeps it out
    assert talk.checks.closed and not talk.checks.own_currency and not talk.castle
    assert [c.id for c in result.communities if c.castle] == [pod_comm]


def test_planted_pod_among_higgs_retweets(datasets):
    path = _need(datasets / "higgs-twitter" / "higgs-activity_time.txt.gz")
    real = []
    with gzip.open(path, "rt") as f:
        for k, line in enumerate(f):
            a, b, ts, kind = line.split()
            if kind == "RT":
                real.append(Event(f"h{k}", "repost", f"h{a}", f"h{b}", int(ts) * 1000, f"h{b}"))
    t0 = min(e.at for e in real)
    t1 = max(e.at for e in real)
    # the pod amplifies the 30 most retweeted accounts, the busiest objects in the data
    top = [o for o, _ in Counter(e.object for e in real).most_common(OBJECTS)]
    rnd = random.Random(7)
    planted = plant_pod(rnd, t0, t1, objects=top, authored=False)
    res = coordinated_pods(real + planted, tau=TAU, min_repeats=MIN_REPEATS)
    with_planted = [p for p in res.pods if set(p.members) & set(POD)]
    # recovered as one pod, with no real account glued to it and no member missing
    assert len(with_planted) == 1 and with_planted[0].members == sorted(POD)
    # real co-retweeting clusters exist at account granularity; none reaches the pod's size
    assert all(p.size < len(POD) for p in res.pods if p is not with_planted[0])
