"""reach: a hand-built case where every number is computed by hand below."""

from __future__ import annotations

import pytest

from graph.analysis.events import Event
from graph.analysis.reach import ReachContribution, reach

EVENTS = [
    # amplification of alice's post p1
    Event("r1", "repost", "bob", "alice", 10, "p1"),
    Event("r2", "repost", "carol", "alice", 11, "p1"),
    Event("q1", "quote", "dave", "alice", 12, "p1"),
    Event("l1", "like", "erin", "alice", 13, "p1"),      # liker: identifies the author only
    Event("r3", "repost", "frank", "alice", 14, "p2"),   # another post of alice
    Event("r4", "repost", "bob", "alice", 15, "p1"),     # bob again: still one amplifier
    # follow edges (source follows target)
    Event("f1", "follow", "x1", "alice", 0, None),
    Event("f2", "follow", "x2", "alice", 0, None),
    Event("f3", "follow", "x3", "alice", 0, None),
    Event("f4", "follow", "bob", "alice", 0, None),
    Event("f5", "follow", "x1", "bob", 0, None),
    Event("f6", "follow", "carol", "bob", 0, None),
    Event("f7", "follow", "y1", "dave", 0, None),
    Event("f8", "follow", "y2", "dave", 0, None),
    Event("f9", "follow", "x1", "dave", 0, None),
    Event("f10", "follow", "w1", "erin", 0, None),       # erin is not in the circle
    # conversation
    Event("c1", "reply", "z1", "alice", 20, "p9"),       # to a circle member
    Event("c2", "reply", "z2", "someone", 21, "p1"),     # on the object itself
    Event("c3", "reply", "z1", "bob", 22, "p1"),         # z1 again
    Event("c4", "reply", "bob", "alice", 23, "p1"),      # inside the circle
    Event("c5", "quote", "z3", "dave", 24, "p7"),        # quotes another post of dave
    Event("c6", "reply", "z4", "erin", 25, "p5"),        # erin is outside the circle
    Event("c7", "mention", "z5", "alice", 26, None),     # attention, not conversation
]
FOLLOWERS = {"alice": 1000, "bob": 500, "carol": 300, "dave": 200, "erin": 10_000, "frank": 50}


def test_objects_subject_by_hand():
    r = reach(EVENTS, FOLLOWERS, objects=["p1"], castle_members={"carol", "dave"},
              pod_members={"bob", "carol"})
    # authors: targets of repost/quote/like on p1 = {alice}
    # amplifiers: sources of repost/quote on p1 = {bob, carol, dave} (erin only liked)
    assert r.authors == ["alice"]
    assert r.amplifiers == ["bob", "carol", "dave"] and r.amplifier_count == 3
    assert r.circle_size == 4
    # claimed: 1000 + 500 + 300 + 200
    assert r.claimed_reach == 2000
    # followers: alice {x1, x2, x3, bob}, bob {x1, carol}, carol {}, dave {y1, y2, x1}
    # union {x1, x2, x3, bob, carol, y1, y2} = 7; outside the circle {x1, x2, x3, y1, y2} = 5
    assert r.deduplicated_reach == 7
    assert r.deduplicated_reach_outside_circle == 5
    assert r.followers_known_for == 3  # alice, bob, dave; carol has no known follower
    # conversation from outside the circle: z1 (to alice, to bob), z2 (reply on p1),
    # z3 (quote to dave); not bob (inside), z4 (to erin), z5 (mention)
    assert r.conversational_reach == 3
    # castle: carol 300 + dave 200 = 500 of 2000; pod: bob 500 + carol 300 = 800 of 2000
    assert (r.castle_claimed_reach, r.castle_share) == (500, 0.25)
    assert (r.pod_claimed_reach, r.pod_share) == (800, 0.4)
    assert r.inflation_claimed_over_deduplicated == 2000 / 7
    assert r.inflation_claimed_over_conversational == 2000 / 3
    assert r.components == [
        ReachContribution(account="alice", role="author", claimed_followers=1000,
                          known_followers=4, castle=False, pod=False),
        ReachContribution(account="bob", role="amplifier", claimed_followers=500,
                          known_followers=2, castle=False, pod=True),
        ReachContribution(account="carol", role="amplifier", claimed_followers=300,
                          known_followers=0, castle=True, pod=True),
        ReachContribution(account="dave", role="amplifier", claimed_followers=200,
                          known_followers=3, castle=True, pod=False),
    ]


def test_accounts_subject_by_hand():
    r = reach(EVENTS, FOLLOWERS, accounts=["alice"])
    # author alice; amplifiers: repost/quote targeting alice = bob, carol, dave, frank (p2)
    assert r.authors == ["alice"]
    assert r.amplifiers == ["bob", "carol", "dave", "frank"]
    assert r.claimed_reach == 2050
    assert r.deduplicated_reach == 7  # frank has no known follower
    assert r.followers_known_for == 3
    # z1 (to alice) and z3 (quote to dave); z2's reply on p1 only counts for objects
    assert r.conversational_reach == 2
    assert r.castle_share == 0.0 and r.pod_share == 0.0
    assert r.inflation_claimed_over_conversational == 1025.0


def test_both_subjects_union_and_missing_counts():
    # p2 (author alice, amplifier frank) plus account dave, whom z3 amplifies by quoting
    # (a quote targeting a subject account is amplification, so z3 joins the circle)
    r = reach(EVENTS, {"frank": 50}, objects=["p2"], accounts=["dave"])
    assert r.authors == ["alice", "dave"] and r.amplifiers == ["frank", "z3"]
    assert r.claimed_reach == 50  # alice, dave and z3 have no claimed count: 0
    # alice {x1, x2, x3, bob} | dave {y1, y2, x1} = 6
    assert r.deduplicated_reach == 6
    # z1 -> alice and bob -> alice (bob is outside this circle); z3 is inside it now
    assert r.conversational_reach == 2


def test_nothing_known_gives_nulls_not_errors():
    r = reach([Event("r", "repost", "b", "a", 0, "p")], {}, objects=["p"])
    assert r.claimed_reach == 0 and r.deduplicated_reach == 0 and r.conversational_reach == 0
    assert r.castle_share is None and r.pod_share is None
    assert r.inflation_claimed_over_deduplicated is None
    assert r.inflation_claimed_over_conversational is None
    assert r.followers_known_for == 0


def test_unknown_object_is_an_empty_circle():
    r = reach(EVENTS, FOLLOWERS, objects=["nope"])
    assert r.authors == [] and r.circle_size == 0 and r.claimed_reach == 0
    assert r.objects == ["nope"]


def test_needs_a_subject():
    with pytest.raises(ValueError):
        reach(EVENTS, FOLLOWERS)
