"""Castles: communities that are closed and count their own currency (echo chambers).

A community is scored on three things, each reported raw and, where a null model exists,
as a z-score against it, so that a castle is "more closed than chance", not "more closed
than some threshold":

- closure of its ties (E-I index, conductance, k-core depth);
- currency: how much of what happens inside is amplification rather than conversation;
- isolation of its conversation: how few of its members' conversation partners are outside.

A test needs layers a graph may not have: currency compares amplification with conversation,
so a retweet network (amplification only) or a hyperlink network (attention only) cannot
measure it. Such a test is reported as not measurable, with the reason, and the verdict rests
on the tests that could be measured, with the weaker confidence that says so.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Iterable, Sequence

import msgspec
import numpy as np

from graph.analysis.graph import LayerGraph
from graph.analysis.nulls import NullDraws, degree_preserving_draws, z_standard_error

__all__ = ["CastleChecks", "CastleComponents", "CastleCommunity", "CastleTest", "CastlesResult", "castles",
           "CASTLE_RULE", "NULL_MODEL", "CONFIDENCE", "Confidence"]

MIN_SIZE = 3

CASTLE_RULE = (
    "castle = closed AND own currency, where "
    "closed: E-I z <= -2 and weighted E-I < 0 (its ties more closed than degree-preserving "
    "rewirings of the structural graph, and more of its members' interactions inside than "
    "out); "
    "own currency: amplification share > 0.5 and amplification share z >= 2 (amplification "
    "outweighs conversation inside, more than a random assignment of the kind labels gives). "
    "A z-score that cannot be computed (constant null) fails its condition. Isolation of "
    "conversation is reported, not a condition. "
    "A test the graph's layers cannot measure is not measurable (null, with the reason in "
    "tests), never false: closed needs ties in the structural layers; own currency needs "
    "both an amplification and a conversation layer with ties in the graph. The verdict is "
    "then the test that could be measured, and confidence says which: full (both), closure "
    "only (weaker: a tight conversational circle is as closed as a castle, and only currency "
    "tells them apart), currency only (weaker: amplification inside a community that may not "
    "be closed), none (nothing measurable; castle false)."
)

#: how much a verdict rests on, by the tests that could be measured
CONFIDENCE = {
    "full": "closed and own currency were both measured",
    "closure only": "own currency could not be measured; the verdict is closure alone, "
                    "which does not tell a castle from a closed conversational circle",
    "currency only": "closure could not be measured; the verdict is own currency alone",
    "none": "neither test could be measured; no community is flagged",
}

Confidence = Annotated[str, msgspec.Meta(extra_json_schema={"title": "CastleConfidence",
                                                            "enum": list(CONFIDENCE)})]

NULL_MODEL = (
    "closure z-scores: null_samples draws of the degree-preserving null model: uniformly "
    "random simple graphs with the degrees of the undirected, unweighted structural graph "
    "(graph.analysis.nulls; draw i seeded with SeedSequence((seed, 0, i)); how the engine "
    "samples them is null_sampler), the partition held fixed, E-I index, conductance and "
    "k-core depth recomputed on each; the same draws serve polarization's modularity "
    "z-score. currency z-scores: null_samples random permutations "
    "(numpy default_rng(SeedSequence((seed, 1)))) of the amplification/conversation label "
    "over all directed (source, target, layer) ties of the graph; each tie keeps its "
    "endpoints and interaction count, so who interacts with whom and how often is fixed and "
    "only whether a tie is amplification or conversation is randomised. Insularity has no "
    "null model. z = (observed - mean) / sample standard deviation of the null; its "
    "standard error (the _z_se fields) is sqrt(1/k + z^2/(2(k-1))) for k draws."
)


class CastleChecks(msgspec.Struct, frozen=True, kw_only=True):
    """The rule's conditions, each as it came out; null when the graph's layers cannot
    measure it (``CastlesResult.tests`` says why)."""

    closed: bool | None
    own_currency: bool | None


class CastleTest(msgspec.Struct, frozen=True, kw_only=True):
    """Whether one condition of the rule could be measured on this graph."""

    #: the condition, as named in ``CastleChecks``
    name: Annotated[str, msgspec.Meta(extra_json_schema={"title": "CastleTestName",
                                                         "enum": ["closed", "own_currency"]})]
    measurable: bool
    #: why it could not be (the layers missing); null when measurable
    reason: str | None


class CastleComponents(msgspec.Struct, frozen=True, kw_only=True):
    # closure, on the undirected unweighted structural graph
    internal_ties: int
    external_ties: int
    ei_index: float | None
    ei_index_z: float | None
    #: standard error of ``ei_index_z`` from the number of draws
    ei_index_z_se: float | None
    #: the E-I index over interaction counts instead of ties
    ei_index_weighted: float | None
    conductance: float | None
    conductance_z: float | None
    core_depth: float | None
    core_depth_z: float | None
    # currency, on the directed ties inside the community (interaction counts)
    internal_amplification: int
    internal_conversation: int
    amplification_share: float | None
    amplification_share_z: float | None
    amplification_share_z_se: float | None
    amplification_reciprocity: float | None
    amplification_reciprocity_z: float | None
    amplification_per_member: float
    amplification_per_member_z: float | None
    # isolation, on reciprocated conversation ties
    conversation_partner_ties: int
    conversation_outside_share: float | None
    insularity: float | None


class CastleCommunity(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    size: int
    #: the rule on the tests that could be measured (``confidence`` says which)
    castle: bool
    score: float
    confidence: Confidence
    checks: CastleChecks
    components: CastleComponents
    #: one sentence: why it is or is not a castle, with the numbers the verdict rests on
    explanation: str


class CastlesResult(msgspec.Struct, frozen=True, kw_only=True):
    communities: list[CastleCommunity]
    rule: str
    null_model: str
    #: how the engine draws the degree-preserving null model
    null_sampler: str
    null_samples: int
    seed: int
    structure_kinds: list[str]
    conversation: list[str]
    amplification: list[str]
    #: each condition of the rule, whether it could be measured on this graph and why not
    tests: list[CastleTest]
    #: what every verdict rests on (``CONFIDENCE``): "full" unless a test was not measurable
    confidence: Confidence


def castles(
    g: LayerGraph,
    membership: Sequence[int],
    *,
    engine,
    null_samples: int = 20,
    seed: int = 0,
    conversation: Iterable[str] = ("reply", "quote"),
    amplification: Iterable[str] = ("repost", "like"),
    structure_kinds: Iterable[str] | None = None,
    nulls: NullDraws | None = None,
) -> CastlesResult:
    r"""Scores each community of ``membership`` as a castle: closed, and counting its own
    currency.

    For a community :math:`S` (id :math:`\ge 0`, at least 3 members):

    *Closure*, on the undirected structural graph (``structure_kinds``, default every kind
    present in ``g``) with :math:`I` ties inside :math:`S` and :math:`E` ties leaving it:

    .. math:: \mathrm{EI} = \frac{E - I}{E + I}, \qquad
              \phi = \frac{E}{2I + E}, \qquad
              \mathrm{depth} = \frac{\operatorname{mean}_{v \in S} \kappa(v)}{\max_v \kappa(v)}

    (Krackhardt & Stern's E-I index, conductance, k-core depth with :math:`\kappa` the
    k-core number), all on unweighted ties, which is what the rewiring null randomises;
    and :math:`\mathrm{EI}_w`, the E-I index over interaction counts (a follow counts 1).

    *Currency*, on directed ties with both ends in :math:`S`: amplification share
    :math:`a / (a + c)` of the interaction counts :math:`a` (``amplification`` kinds) and
    :math:`c` (``conversation`` kinds); amplification reciprocity, the share of internal
    amplification ties :math:`u \to v` with an amplification tie :math:`v \to u`;
    amplification per member :math:`a / |S|`. (Under the label permutation the internal
    interaction total is fixed, so share and per-member z-scores coincide.)

    *Isolation of conversation*: over the reciprocated conversation ties of the members,
    the share whose partner is outside :math:`S`; insularity is one minus that.

    Each closure and currency score gets a z-score against ``null_samples`` draws of a
    null model (``NULL_MODEL``): random simple graphs with the same degrees for closure,
    permutation of the amplification/conversation label over all ties for currency. The
    E-I index and amplification share z-scores come with their standard errors.

    The rule (``CASTLE_RULE``) is "closed AND own currency", as the design defines a
    castle:

    - closed: :math:`z(\mathrm{EI}) \le -2` and :math:`\mathrm{EI}_w < 0`. The z-score
      says its ties are more closed than chance, but nearly every Louvain community is,
      since Louvain maximises just that; the raw bound adds that most of what its members
      do stays inside. It reads interactions, not ties, so that a fringe of light ties
      (accounts that reposted a pod a few times, which Louvain attaches to it) does not
      open a community whose members interact almost only with each other.
    - own currency: amplification share :math:`> 0.5` and its :math:`z \ge 2`:
      amplification outweighs conversation inside, beyond what the graph-wide mix of kinds
      would put there. This is what separates a castle from a tight conversational circle,
      which can be just as closed: closure alone makes a community, not a castle, so no
      "closed and insular" alternative clause is offered.

    Isolation of conversation is reported, not a condition: conversation that leaves the
    community already counts against it in :math:`\mathrm{EI}_w`; as a separate condition
    it made the verdict on a planted pod hinge on how many peripheral accounts (each with
    its own outside conversations) Louvain happened to attach to it, since a pod itself
    does not converse and the fringe's few ties were all its conversation.

    *When a layer is missing.* Own currency is measurable only when the graph has ties of
    an ``amplification`` kind and of a ``conversation`` kind: with one of them absent the
    share is 0 or 1 by construction and the label permutation changes nothing. Closure is
    measurable when the structural graph has a tie. A test that is not measurable is
    ``None`` in ``checks`` (never ``False``), ``tests`` gives the reason, and ``castle`` is
    the rule on the tests that were measured, with ``confidence`` "full", "closure only",
    "currency only" or "none" (``CONFIDENCE``; with none, no castle). "Closure only", as on
    a retweet or a hyperlink network, is weaker: it cannot tell a castle from a closed
    conversational circle. Where a test *is* measurable, a score or z-score that cannot be
    computed for a community still fails its condition.

    ``score`` is :math:`\frac{1 - \mathrm{EI}_w}{2} \cdot \text{share}` in :math:`[0, 1]`
    (a missing share or :math:`\mathrm{EI}_w` counts 0): high only when both closure and
    own currency are. A factor whose test is not measurable is left out.

    ``explanation`` says in one sentence why a community is or is not a castle, with the
    share of its members' interactions that stay inside (:math:`(1 - \mathrm{EI}_w)/2`),
    the E-I z-score, the amplification share and its z-score, and what was not measurable.

    Parameters
    ----------
    g : LayerGraph
        The graph.
    membership : sequence of int
        Community id per account (``-1`` = none), e.g. from Louvain.
    engine : Engine
        Provides ``rewire`` and ``coreness`` (``graph.analysis.engine.get_engine``).
    null_samples : int
        Draws of each null model (at least 2).
    seed : int
        Seeds every draw.
    conversation, amplification : iterable of str
        The kinds of each currency.
    structure_kinds : iterable of str, optional
        Kinds of the structural graph; default every kind in ``g``.
    nulls : NullDraws, optional
        Draws of the null model already made for this graph, kinds, membership, seed and
        ``null_samples`` (``graph.analysis.nulls.degree_preserving_draws``), e.g. shared
        with :func:`graph.analysis.polarization.polarization`; drawn here when absent.

    Returns
    -------
    CastlesResult
        One entry per community (by id) with ``castle``, ``score``, ``confidence``, the
        rule's checks, every component raw and as z and the ``explanation``; the rule, the
        null model, ``null_samples``, ``seed``, which tests were measurable (``tests``) and
        the ``confidence`` of every verdict.

    Examples
    --------
    A pod (a-f repost each other), an equally dense conversational circle (g-l reply to
    each other), and a ring of others each of them replies to once:

    >>> from itertools import permutations
    >>> from graph.analysis.engine import get_engine
    >>> pod, talk, others = "abcdef", "ghijkl", [f"o{i}" for i in range(12)]
    >>> rows = [(x, y, "repost", 2, 0, 0) for x, y in permutations(pod, 2)]
    >>> rows += [(x, y, "reply", 2, 0, 0) for x, y in permutations(talk, 2)]
    >>> rows += [(x, y, "reply", 1, 0, 0) for x, y in zip(others, others[1:] + others[:1])]
    >>> rows += [(x, y, "reply", 1, 0, 0) for x, y in zip(pod + talk, others)]
    >>> g = LayerGraph.from_rows(rows)
    >>> m = [0 if v in pod else 1 if v in talk else 2 for v in g.nodes]
    >>> res = castles(g, m, engine=get_engine("reference"), seed=0)
    >>> [(c.id, c.castle, round(c.components.ei_index, 2), c.components.amplification_share,
    ...   c.checks.closed) for c in res.communities]
    [(0, True, -0.43, 1.0, True), (1, False, -0.43, 0.0, True), (2, False, 0.0, 0.0, False)]
    >>> res.confidence
    'full'
    >>> print(res.communities[0].explanation)  # doctest: +NORMALIZE_WHITESPACE
    Closed: 91% of its members' interactions stay inside (E-I z -9.8); own currency: 100% of
    the interactions inside are amplification (z 7.9), so it is a castle.

    Read the replies as mentions and the graph has no conversation layer: own currency
    cannot be measured, and on closure alone the conversational circle is flagged with the
    pod, which is why that verdict is the weaker one.

    >>> g = LayerGraph.from_rows([(x, y, "mention" if k == "reply" else k, *r) for x, y, k, *r in rows])
    >>> res = castles(g, m, engine=get_engine("reference"), seed=0)
    >>> res.confidence, [(t.name, t.measurable) for t in res.tests]
    ('closure only', [('closed', True), ('own_currency', False)])
    >>> [(c.id, c.castle, c.checks.closed, c.checks.own_currency) for c in res.communities]
    [(0, True, True, None), (1, True, True, None), (2, False, False, None)]
    >>> print(res.communities[1].explanation)  # doctest: +NORMALIZE_WHITESPACE
    Closed: 91% of its members' interactions stay inside (E-I z -14.3); amplification share
    could not be measured: the graph has no conversation layer (reply, quote) to weigh its
    amplification against, so it is a castle on closure alone.

    References
    ----------
    .. [1] D. Krackhardt, R. N. Stern. "Informal networks and organizational crises: an
       experimental simulation." Social Psychology Quarterly 51(2), 1988.
       doi:10.2307/2786835 (E-I index)
    .. [2] S. B. Seidman. "Network structure and minimum degree." Social Networks 5(3),
       1983. doi:10.1016/0378-8733(83)90028-X (k-cores)
    .. [3] S. Maslov, K. Sneppen. "Specificity and stability in topology of protein
       networks." Science 296(5569), 2002. doi:10.1126/science.1065103 (rewiring null)
    .. [4] M. Cinelli, G. De Francisci Morales, A. Galeazzi, W. Quattrociocchi, M. Starnini.
       "The echo chamber effect on social media." PNAS 118(9), 2021.
       doi:10.1073/pnas.2023301118
    """
    if null_samples < 2:
        raise ValueError("null_samples must be >= 2: the z-scores need a spread")
    n = g.n
    memb = np.asarray(membership, dtype=np.int64)
    if memb.shape != (n,):
        raise ValueError(f"membership has {len(memb)} entries for {n} accounts")
    conversation = list(dict.fromkeys(conversation))
    amplification = list(dict.fromkeys(amplification))
    structure = sorted(g.kinds) if structure_kinds is None else list(dict.fromkeys(structure_kinds))

    ids, sizes = np.unique(memb[memb >= 0], return_counts=True)
    keep = sizes >= MIN_SIZE
    ids, sizes = ids[keep], sizes[keep]
    lab = np.full(n, -1, dtype=np.int64)
    if len(ids):
        pos = np.searchsorted(ids, memb)
        pos = np.minimum(pos, len(ids) - 1)
        hit = (memb >= 0) & (ids[pos] == memb)
        lab[hit] = pos[hit]
    C = len(ids)
    tests = _measurable(g, structure, conversation, amplification)
    closure_ok, currency_ok = (t.measurable for t in tests)
    confidence = _confidence(closure_ok, currency_ok)
    result = dict(rule=CASTLE_RULE, null_model=NULL_MODEL, null_sampler=engine.null_sampler,
                  null_samples=int(null_samples),
                  seed=int(seed), structure_kinds=structure, conversation=conversation,
                  amplification=amplification, tests=tests, confidence=confidence)
    if C == 0:  # nothing to score: skip the null draws
        return CastlesResult(communities=[], **result)

    # closure and its rewiring null
    s_src, s_dst, s_w = g.undirected(structure)
    s_src, s_dst = s_src.astype(np.int64), s_dst.astype(np.int64)
    I_obs, E_obs = _ties(lab, s_src, s_dst, C)
    Iw_obs, Ew_obs = _ties(lab, s_src, s_dst, C, s_w)
    depth_obs = _depth(lab, np.asarray(engine.coreness(n, s_src, s_dst)), C)
    if nulls is None:
        nulls = degree_preserving_draws(g, structure, memb, engine=engine, samples=null_samples, seed=seed)
    elif nulls.samples != null_samples or sorted(nulls.kinds) != sorted(structure) or nulls.seed != seed:
        raise ValueError("nulls were drawn for other kinds, samples or seed")
    # a community's degree sum is fixed by the null model: what is not inside leaves
    I_null = _columns(nulls.internal, ids).astype(np.float64)
    E_null = (2 * I_obs + E_obs)[None, :] - 2 * I_null
    ei_null, cond_null = _ei(I_null, E_null), _conductance(I_null, E_null)
    depth_null = _columns(nulls.depth, ids)
    ei_obs, cond_obs = _ei(I_obs, E_obs), _conductance(I_obs, E_obs)
    eiw_obs = _ei(Iw_obs, Ew_obs)

    # currency and its label-permutation null
    a_src, a_dst, a_w = g.directed(amplification)
    c_src, c_dst, c_w = g.directed(conversation)
    t_src = np.concatenate([a_src, c_src]).astype(np.int64)
    t_dst = np.concatenate([a_dst, c_dst]).astype(np.int64)
    t_w = np.concatenate([a_w, c_w])
    is_amp = np.concatenate([np.ones(len(a_src), bool), np.zeros(len(c_src), bool)])
    inside = (lab[t_src] >= 0) & (lab[t_src] == lab[t_dst])
    cur = _Currency(n, lab[t_src][inside], t_src[inside], t_dst[inside], t_w[inside], C, sizes)
    amp_obs, conv_obs, share_obs, recip_obs, per_obs = cur(is_amp[inside])
    rng = np.random.default_rng(np.random.SeedSequence((seed, 1)))
    share_null = np.empty((null_samples, C))
    recip_null = np.empty((null_samples, C))
    per_null = np.empty((null_samples, C))
    for i in range(null_samples):
        perm = rng.permutation(is_amp)
        _, _, share_null[i], recip_null[i], per_null[i] = cur(perm[inside])

    # isolation of conversation
    r_src, r_dst, _ = g.reciprocated(conversation)
    r_src, r_dst = r_src.astype(np.int64), r_dst.astype(np.int64)
    lu, lv = lab[r_src], lab[r_dst]
    ties_total = _count(lu[lu >= 0], C) + _count(lv[lv >= 0], C)
    ties_out = _count(lu[(lu >= 0) & (lu != lv)], C) + _count(lv[(lv >= 0) & (lu != lv)], C)

    z_ei, z_cond, z_depth = _z(ei_obs, ei_null), _z(cond_obs, cond_null), _z(depth_obs, depth_null)
    z_share, z_recip, z_per = _z(share_obs, share_null), _z(recip_obs, recip_null), _z(per_obs, per_null)

    out = []
    for k in range(C):
        outside = ties_out[k] / ties_total[k] if ties_total[k] else None
        insular = 1.0 - outside if outside is not None else None
        comp = CastleComponents(
            internal_ties=int(I_obs[k]), external_ties=int(E_obs[k]),
            ei_index=_f(ei_obs[k]), ei_index_z=z_ei[k],
            ei_index_z_se=z_standard_error(z_ei[k], null_samples), ei_index_weighted=_f(eiw_obs[k]),
            conductance=_f(cond_obs[k]), conductance_z=z_cond[k],
            core_depth=_f(depth_obs[k]), core_depth_z=z_depth[k],
            internal_amplification=int(round(amp_obs[k])),
            internal_conversation=int(round(conv_obs[k])),
            amplification_share=_f(share_obs[k]), amplification_share_z=z_share[k],
            amplification_share_z_se=z_standard_error(z_share[k], null_samples),
            amplification_reciprocity=_f(recip_obs[k]), amplification_reciprocity_z=z_recip[k],
            amplification_per_member=float(per_obs[k]), amplification_per_member_z=z_per[k],
            conversation_partner_ties=int(ties_total[k]),
            conversation_outside_share=_f(outside), insularity=_f(insular),
        )
        closed = (comp.ei_index_weighted is not None and comp.ei_index_weighted < 0
                  and comp.ei_index_z is not None and comp.ei_index_z <= -2)
        own = (comp.amplification_share is not None and comp.amplification_share > 0.5
               and comp.amplification_share_z is not None and comp.amplification_share_z >= 2)
        checks = CastleChecks(closed=closed if closure_ok else None, own_currency=own if currency_ok else None)
        measured = [c for c in (checks.closed, checks.own_currency) if c is not None]
        score = 1.0
        if closure_ok:
            score *= (1.0 - comp.ei_index_weighted) / 2 if comp.ei_index_weighted is not None else 0.0
        if currency_ok:
            score *= comp.amplification_share or 0.0
        castle = bool(measured) and all(measured)
        out.append(CastleCommunity(
            id=int(ids[k]), size=int(sizes[k]), castle=castle,
            score=round(float(score), 12) if measured else 0.0, confidence=confidence,
            checks=checks, components=comp, explanation=_explain(comp, checks, castle, tests),
        ))
    return CastlesResult(communities=out, **result)


def _measurable(g: LayerGraph, structure: list[str], conversation: list[str],
                amplification: list[str]) -> list[CastleTest]:
    """Which conditions the graph's layers can measure, graph-wide: a kind counts as present
    when it has a tie between two accounts."""
    def has(kinds):
        return len(kinds) > 0 and len(g.directed(kinds)[0]) > 0

    closure = None if has(structure) else (
        f"the structural layers ({', '.join(structure) or 'none chosen'}) have no ties")
    amp = f"amplification layer ({', '.join(amplification) or 'none chosen'})"
    conv = f"conversation layer ({', '.join(conversation) or 'none chosen'})"
    currency = {
        (True, True): None,
        (True, False): f"the graph has no {conv} to weigh its amplification against",
        (False, True): f"the graph has no {amp} to weigh against its conversation",
        (False, False): f"the graph has neither an {amp} nor a {conv}",
    }[has(amplification), has(conversation)]
    return [CastleTest(name="closed", measurable=closure is None, reason=closure),
            CastleTest(name="own_currency", measurable=currency is None, reason=currency)]


def _confidence(closure: bool, currency: bool) -> str:
    return {(True, True): "full", (True, False): "closure only",
            (False, True): "currency only", (False, False): "none"}[closure, currency]


def _z_text(z: float | None) -> str:
    return "none" if z is None else f"{z:.1f}"


def _explain(c: CastleComponents, checks: CastleChecks, castle: bool, tests: list[CastleTest]) -> str:
    """One sentence: each condition as it came out, with its numbers, then the verdict."""
    reasons = {t.name: t.reason for t in tests}
    if checks.closed is None:
        closure = f"closure could not be measured: {reasons['closed']}"
    elif c.ei_index_weighted is None:
        closure = "not closed: its members have no interactions in the structural layers"
    else:
        inside = f"{(1 - c.ei_index_weighted) / 2:.0%} of its members' interactions stay inside"
        if checks.closed:
            closure = f"closed: {inside} (E-I z {_z_text(c.ei_index_z)})"
        elif c.ei_index_weighted >= 0:
            closure = f"not closed: only {inside} (E-I z {_z_text(c.ei_index_z)})"
        elif c.ei_index_z is None:
            closure = (f"not closed: {inside}, but the E-I z-score could not be computed "
                       "(the null model did not vary)")
        else:
            closure = (f"not closed: {inside}, but its ties are no more closed than in random graphs of the "
                       f"same degrees (E-I z {_z_text(c.ei_index_z)}, needs -2 or below)")
    if checks.own_currency is None:
        currency = f"amplification share could not be measured: {reasons['own_currency']}"
    elif c.amplification_share is None:
        currency = "no own currency: no amplification or conversation between its members"
    else:
        share = f"{c.amplification_share:.0%} of the interactions inside are amplification"
        if checks.own_currency:
            currency = f"own currency: {share} (z {_z_text(c.amplification_share_z)})"
        elif c.amplification_share <= 0.5:
            currency = f"no own currency: only {share} (z {_z_text(c.amplification_share_z)})"
        elif c.amplification_share_z is None:
            currency = (f"no own currency: {share}, but its z-score could not be computed "
                        "(the null did not vary)")
        else:
            currency = (f"no own currency: {share}, no more than a random assignment of the kinds gives "
                        f"(z {_z_text(c.amplification_share_z)}, needs 2 or more)")
    if checks.closed is None and checks.own_currency is None:
        verdict = "so it is not flagged"
    elif checks.own_currency is None:
        verdict = "so it is a castle on closure alone" if castle else "so it is not a castle"
    elif checks.closed is None:
        verdict = "so it is a castle on currency alone" if castle else "so it is not a castle"
    else:
        verdict = "so it is a castle" if castle else "so it is not a castle"
    sentence = f"{closure}; {currency}, {verdict}."
    return sentence[0].upper() + sentence[1:]


def _columns(rows: list[list], ids: np.ndarray) -> np.ndarray:
    """The draw-by-community table of the communities ``ids``."""
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)[:, ids]


def _count(labels: np.ndarray, C: int, weights=None) -> np.ndarray:
    return np.bincount(labels, weights=weights, minlength=C)[:C] if C else np.zeros(0)


def _ties(lab, src, dst, C, w=None):
    ls, ld = lab[src], lab[dst]
    same = (ls >= 0) & (ls == ld)
    internal = _count(ls[same], C, None if w is None else w[same])
    diff = ls != ld
    out_s, out_d = diff & (ls >= 0), diff & (ld >= 0)
    external = (_count(ls[out_s], C, None if w is None else w[out_s])
                + _count(ld[out_d], C, None if w is None else w[out_d]))
    return internal, external


def _ei(I, E):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(I + E > 0, (E - I) / (I + E), np.nan)


def _conductance(I, E):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * I + E > 0, E / (2 * I + E), np.nan)


def _depth(lab, core, C):
    top = core.max() if len(core) else 0
    if top <= 0:
        return np.full(C, np.nan)
    members = lab >= 0
    total = _count(lab[members], C, weights=core[members].astype(np.float64))
    size = _count(lab[members], C)
    return total / size / top


class _Currency:
    """Currency of each community from a labelling of its internal ties (endpoints and
    counts fixed, amplification flag varying), so the null model only swaps the flags."""

    def __init__(self, n, comm, src, dst, w, C, sizes):
        self.comm, self.w, self.C = comm, w, C
        self.key = src * n + dst
        self.rkey = dst * n + src
        self.sizes = sizes.astype(np.float64)
        self.total = _count(comm, C, weights=w)

    def __call__(self, amp: np.ndarray):
        C = self.C
        a = _count(self.comm[amp], C, weights=self.w[amp])
        c = self.total - a
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.total > 0, a / self.total, np.nan)
        # a pair may carry the amplification flag twice after a permutation: count ties once
        keys, first = np.unique(self.key[amp], return_index=True)
        comm = self.comm[amp][first]
        rkeys = self.rkey[amp][first]
        back = np.isin(rkeys, keys)
        n_amp = _count(comm, C)
        n_back = _count(comm[back], C)
        with np.errstate(invalid="ignore", divide="ignore"):
            recip = np.where(n_amp > 0, n_back / n_amp, np.nan)
        return a, c, share, recip, a / self.sizes if C else np.zeros(0)


def _z(obs, null):
    # a null draw where a score is undefined (say, no internal ties) is left out, and an
    # all-undefined null is reported as no z, without numpy's empty-slice warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(null, axis=0) if null.size else np.zeros(0)
        sd = np.nanstd(null, axis=0, ddof=1) if null.size else np.zeros(0)
    out: list[float | None] = []
    for o, m, s in zip(np.asarray(obs, dtype=np.float64), mean, sd):
        if np.isnan(o) or np.isnan(m) or np.isnan(s) or s <= 1e-12:
            out.append(None)
        else:
            out.append(float((o - m) / s))
    return out


def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x
