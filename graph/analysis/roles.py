"""Account roles in a community partition: Guimerà–Amaral roles, Gould–Fernandez
brokerage, Burt's structural holes, betweenness, PageRank and HITS, for every account at
once.

Two kinds of role, which answer different questions: the *brokerage role* (Gould &
Fernandez) says which groups an account mediates between, so it is what the gatekeeper
ranking is read with; the *module role* (Guimerà & Amaral) says where an account sits
inside its own community (its degree there and how its ties spread over communities). A
top broker whose ties are mostly inside its own large community is a "peripheral" module
member and a "liaison" broker at once: both are true, of different things."""

from __future__ import annotations

import math
import uuid
from typing import Sequence

import msgspec
import numpy as np

from graph.analysis import parallel
from graph.analysis.brokerage import BROKERAGE_ROLES, gould_fernandez
from graph.analysis.engine import Engine, get_engine
from graph.analysis.graph import LayerGraph

__all__ = [
    "AccountRoles",
    "betweenness_standard_error",
    "BrokerageCounts",
    "dominant_brokerage_role",
    "RolesTable",
    "account_roles",
    "guimera_amaral_role",
    "participation_coefficient",
    "roles_of",
    "within_module_degree",
]

#: Guimerà & Amaral (2005): hubs have a within-module degree z >= 2.5
HUB_Z = 2.5


class RolesTable(msgspec.Struct, frozen=True, kw_only=True):
    """Every metric for every analysed account, as parallel lists: position ``i`` is
    ``accounts[i]`` (node ``nodes[i]`` of the graph). NaN (JSON null) = undefined, e.g.
    z and participation of an account outside the partition (community -1)."""

    kinds: list[str]
    engine: str
    seed: int
    accounts: list[str]
    nodes: list[int]
    community: list[int]
    z: list[float]
    participation: list[float]
    #: Guimerà–Amaral role: the account's place inside its own community (None outside one)
    module_role: list[str | None]
    #: role name (BROKERAGE_ROLES) -> count per account
    brokerage: dict[str, list[int]]
    #: the Gould–Fernandez role of most of the account's brokered pairs
    #: (:func:`dominant_brokerage_role`; None when it brokers none)
    brokerage_role: list[str | None]
    #: accounts whose brokerage counts are sampled estimates (hubs of huge graphs)
    brokerage_approximate: list[str]
    constraint: list[float]
    effective_size: list[float]
    betweenness: list[float]
    betweenness_method: str
    pivots: int | None
    #: standard error of each sampled betweenness (batch means over the shares of the
    #: pivots, ``betweenness_standard_error``); None when betweenness is exact
    betweenness_se: list[float] | None = None
    pagerank: list[float]
    hub: list[float]
    authority: list[float]


class BrokerageCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Gould-Fernandez brokerage of one account: the brokered pairs a -> broker -> b (a
    and b not linked) of each role (``BROKERAGE_ROLES``, by the groups of a, the broker
    and b)."""

    #: all three in one group
    coordinator: int
    #: a and b in one group, the broker in another
    itinerant: int
    #: the broker in b's group, a outside it
    gatekeeper: int
    #: the broker in a's group, b outside it
    representative: int
    #: all three in different groups
    liaison: int


class AccountRoles(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    community: int
    #: the Gould–Fernandez role of most of its brokered pairs: which groups it mediates
    #: between (coordinator, itinerant, gatekeeper, representative, liaison); null when it
    #: brokers no pair
    brokerage_role: str | None
    #: the Guimerà–Amaral role: its place *inside its own community* (hub or not, from
    #: ``z``; how its ties spread over communities, from ``participation``), not whether it
    #: brokers between communities; null outside the partition
    module_role: str | None
    z: float
    participation: float
    brokerage: BrokerageCounts
    brokerage_approximate: bool
    constraint: float
    effective_size: float
    betweenness: float
    betweenness_method: str
    pivots: int | None
    #: standard error of ``betweenness`` when it is sampled; null when it is exact
    betweenness_se: float | None
    pagerank: float
    hub: float
    authority: float


def _groups(membership: np.ndarray) -> np.ndarray:
    """-1 (outside the partition) becomes a singleton group of its own."""
    g = np.asarray(membership, dtype=np.int64).copy()
    loose = g < 0
    if loose.any():
        g[loose] = max(int(g.max()), -1) + 1 + np.arange(int(loose.sum()))
    return g


def _both_ways(src, dst, w, weighted):
    s = np.concatenate([src, dst]).astype(np.int64)
    d = np.concatenate([dst, src]).astype(np.int64)
    if weighted and w is not None:
        ww = np.concatenate([w, w]).astype(np.float64)
    else:
        ww = np.ones(len(s))
    return s, d, ww


def within_module_degree(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    w: np.ndarray | None,
    membership: Sequence[int] | np.ndarray,
    *,
    weighted: bool = False,
) -> np.ndarray:
    r"""Within-module degree z-score (Guimerà & Amaral 2005).

    .. math::

        z_i = \frac{\kappa_i - \bar\kappa_{s_i}}{\sigma_{\kappa_{s_i}}}

    where :math:`\kappa_i` is the number of links of :math:`i` to other members of its
    module :math:`s_i`, and :math:`\bar\kappa_{s_i}`, :math:`\sigma_{\kappa_{s_i}}` the mean
    and (population) standard deviation of :math:`\kappa` over that module. How strongly
    an account is connected inside its own community, compared with its peers.

    Parameters
    ----------
    n : int
        Number of nodes.
    src, dst : array of int
        Undirected edges, each pair once.
    w : array of float or None
        Edge weights, used only with ``weighted=True`` (the paper counts links).
    membership : sequence of int
        Module per node; -1 = outside the partition.
    weighted : bool
        Use weights (strength) instead of link counts.

    Returns
    -------
    ndarray of float, shape (n,)
        z per node; 0 in a module where every member has the same :math:`\kappa` (no one
        stands out); NaN for nodes with membership -1.

    Examples
    --------
    A star 0-1, 0-2, 0-3 plus the edge 1-2, all in one module: degrees 3, 2, 2, 1.

    >>> import numpy as np
    >>> z = within_module_degree(4, np.array([0, 0, 0, 1]), np.array([1, 2, 3, 2]), None,
    ...                          [0, 0, 0, 0])
    >>> np.round(z, 4).tolist()
    [1.4142, 0.0, 0.0, -1.4142]

    References
    ----------
    Guimerà & Amaral, "Functional cartography of complex metabolic networks", Nature 433
    (2005) 895-900. doi:10.1038/nature03288
    """
    memb = np.asarray(membership, dtype=np.int64)
    groups = _groups(memb)
    s, d, ww = _both_ways(np.asarray(src), np.asarray(dst), w, weighted)
    inside = groups[s] == groups[d]
    kappa = np.bincount(s[inside], weights=ww[inside], minlength=n)
    k = int(groups.max()) + 1 if n else 0
    size = np.bincount(groups, minlength=k)
    mean = np.bincount(groups, weights=kappa, minlength=k) / np.maximum(size, 1)
    var = np.bincount(groups, weights=kappa**2, minlength=k) / np.maximum(size, 1) - mean**2
    sd = np.sqrt(np.maximum(var, 0.0))
    dev = kappa - mean[groups]
    # relative tolerance: var from E[x^2] - E[x]^2 leaves rounding noise instead of 0
    flat = sd[groups] <= 1e-12 * np.maximum(1.0, np.abs(mean[groups]))
    z = np.where(flat, 0.0, dev / np.where(flat, 1.0, sd[groups]))
    z[memb < 0] = np.nan
    return z


def participation_coefficient(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    w: np.ndarray | None,
    membership: Sequence[int] | np.ndarray,
    *,
    weighted: bool = False,
) -> np.ndarray:
    r"""Participation coefficient (Guimerà & Amaral 2005).

    .. math::

        P_i = 1 - \sum_{s} \Big(\frac{k_{is}}{k_i}\Big)^2

    with :math:`k_{is}` the links of :math:`i` to module :math:`s` and :math:`k_i` its
    degree. 0 when all links stay in one module; close to 1 when they spread evenly over
    many modules.

    Parameters
    ----------
    n : int
        Number of nodes.
    src, dst : array of int
        Undirected edges, each pair once.
    w : array of float or None
        Edge weights, used only with ``weighted=True``.
    membership : sequence of int
        Module per node; -1 = outside the partition. A neighbour outside counts as a
        module of its own.
    weighted : bool
        Use weights instead of link counts.

    Returns
    -------
    ndarray of float, shape (n,)
        P per node; 0 for nodes without links; NaN for nodes with membership -1.

    Examples
    --------
    Node 0 has two links into module 0 and two into module 1: P = 1 - (1/4 + 1/4).

    >>> import numpy as np
    >>> p = participation_coefficient(5, np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4]), None,
    ...                               [0, 0, 0, 1, 1])
    >>> p.tolist()
    [0.5, 0.0, 0.0, 0.0, 0.0]

    References
    ----------
    Guimerà & Amaral, "Functional cartography of complex metabolic networks", Nature 433
    (2005) 895-900. doi:10.1038/nature03288
    """
    memb = np.asarray(membership, dtype=np.int64)
    groups = _groups(memb)
    s, d, ww = _both_ways(np.asarray(src), np.asarray(dst), w, weighted)
    deg = np.bincount(s, weights=ww, minlength=n)
    k = int(groups.max()) + 1 if n else 1
    keys, inv = np.unique(s * k + groups[d], return_inverse=True)
    per = np.bincount(inv.ravel(), weights=ww)
    node = keys // k
    with np.errstate(invalid="ignore", divide="ignore"):
        share2 = np.bincount(node, weights=(per / deg[node]) ** 2, minlength=n)
    p = np.where(deg > 0, 1.0 - share2, 0.0)
    p = np.clip(p, 0.0, 1.0)
    p[memb < 0] = np.nan
    return p


def guimera_amaral_role(z: float, p: float) -> str:
    r"""The Guimerà–Amaral role of a node from its within-module degree z and
    participation coefficient P.

    Hubs have :math:`z \ge 2.5`. Non-hubs: R1 ultra-peripheral :math:`P \le 0.05`,
    R2 peripheral :math:`0.05 < P \le 0.62`, R3 connector :math:`0.62 < P \le 0.80`,
    R4 kinless :math:`P > 0.80`. Hubs: R5 provincial hub :math:`P \le 0.30`,
    R6 connector hub :math:`0.30 < P \le 0.75`, R7 kinless hub :math:`P > 0.75`.

    Parameters
    ----------
    z : float
        Within-module degree z-score (:func:`within_module_degree`).
    p : float
        Participation coefficient (:func:`participation_coefficient`).

    Returns
    -------
    str
        One of "ultra-peripheral", "peripheral", "connector", "kinless",
        "provincial hub", "connector hub", "kinless hub".

    Raises
    ------
    ValueError
        If z or p is NaN (the node is outside the partition).

    Examples
    --------
    >>> guimera_amaral_role(0.3, 0.7), guimera_amaral_role(3.1, 0.5)
    ('connector', 'connector hub')

    References
    ----------
    Guimerà & Amaral, "Functional cartography of complex metabolic networks", Nature 433
    (2005) 895-900. doi:10.1038/nature03288
    """
    if math.isnan(z) or math.isnan(p):
        raise ValueError("role undefined for z or P = NaN (node outside the partition)")
    if z >= HUB_Z:
        if p <= 0.30:
            return "provincial hub"
        if p <= 0.75:
            return "connector hub"
        return "kinless hub"
    if p <= 0.05:
        return "ultra-peripheral"
    if p <= 0.62:
        return "peripheral"
    if p <= 0.80:
        return "connector"
    return "kinless"


def dominant_brokerage_role(counts: dict[str, int]) -> str | None:
    """The Gould–Fernandez role of most of an account's brokered pairs.

    Of the five roles (``BROKERAGE_ROLES``: coordinator, itinerant, gatekeeper,
    representative, liaison) the one with the largest count; ties go to the role that
    crosses more group borders (liaison, then gatekeeper and representative, then
    itinerant, then coordinator), since those are what a brokerage ranking is about.

    Parameters
    ----------
    counts : dict of str to int
        Brokered pairs per role, as ``RolesTable.brokerage`` holds them for one account.

    Returns
    -------
    str or None
        The role; None when the account brokers no pair.

    Examples
    --------
    >>> dominant_brokerage_role({"coordinator": 4, "itinerant": 0, "gatekeeper": 4,
    ...                          "representative": 1, "liaison": 0})
    'gatekeeper'
    >>> dominant_brokerage_role(dict.fromkeys(BROKERAGE_ROLES, 0)) is None
    True

    References
    ----------
    Gould & Fernandez, "Structures of mediation", Sociological Methodology 19 (1989)
    89-126. doi:10.2307/270949
    """
    best = max(_CROSSING, key=lambda r: counts.get(r, 0))
    return best if counts.get(best, 0) > 0 else None


#: brokerage roles from most group borders crossed to fewest (the tie-break above)
_CROSSING = ("liaison", "gatekeeper", "representative", "itinerant", "coordinator")


def _dominant(broker: np.ndarray) -> list[str | None]:
    """:func:`dominant_brokerage_role` of every row of a (n, 5) count array in
    ``BROKERAGE_ROLES`` order, at once (argmax keeps the first of equal maxima)."""
    cols = [BROKERAGE_ROLES.index(r) for r in _CROSSING]
    counts = np.asarray(broker).reshape(-1, len(BROKERAGE_ROLES))[:, cols]
    best = counts.argmax(axis=1) if len(counts) else np.zeros(0, dtype=np.int64)
    top = counts[np.arange(len(counts)), best] if len(counts) else np.zeros(0)
    return [_CROSSING[b] if t > 0 else None for b, t in zip(best.tolist(), top.tolist())]


def account_roles(
    g: LayerGraph,
    kinds: Sequence[str],
    membership: Sequence[int] | np.ndarray,
    *,
    engine: Engine,
    seed: int = 0,
    betweenness_exact_max_nodes: int = 5000,
    k: int | None = None,
) -> RolesTable:
    r"""Every role metric for every account with an edge in ``kinds``, in one table.

    On the analysed graph (accounts with at least one edge in ``kinds``):

    - ``z``, ``participation``, ``module_role``: :func:`within_module_degree`,
      :func:`participation_coefficient` and :func:`guimera_amaral_role` on the undirected
      graph, counting links (as in the paper);
    - ``brokerage``: Gould–Fernandez counts on the directed graph ``g.directed(kinds)``
      (:func:`graph.analysis.brokerage.gould_fernandez`), and ``brokerage_role``, the
      dominant one (:func:`dominant_brokerage_role`);
    - ``constraint``: Burt's :math:`c_i = \sum_{j \ne i} (p_{ij} + \sum_{q \ne i,j}
      p_{iq} p_{qj})^2` with :math:`p_{ij}` the share of i's (weighted, undirected)
      interactions spent on j; ``effective_size``: :math:`k_i - 2 t_i / k_i` with
      :math:`t_i` the ties among i's neighbours (unweighted);
    - ``betweenness``: normalised shortest-path betweenness on the undirected unweighted
      graph, exact when the analysed graph has at most ``betweenness_exact_max_nodes``
      accounts and no ``k`` is given, else estimated from ``k`` (default
      ``min(n, 1000)``) seeded pivots (Brandes & Pich 2007);
    - ``pagerank`` (damping 0.85) and HITS ``hub``/``authority`` on the directed weighted
      graph, where an edge points from the actor to the account acted upon.

    Parameters
    ----------
    g : LayerGraph
    kinds : sequence of str
        Interaction kinds to analyse.
    membership : sequence of int, length ``g.n``
        Community per node (e.g. ``communities(...).membership``); -1 = outside.
    engine : Engine
    seed : int
        Seed for sampled betweenness and sampled brokerage.
    betweenness_exact_max_nodes : int
        Largest analysed graph on which betweenness is exact.
    k : int or None
        Pivots for sampled betweenness; giving it forces sampling.

    Returns
    -------
    RolesTable
        Parallel per-account lists; read one account with :func:`roles_of`.

    Examples
    --------
    >>> from graph.analysis.engine import get_engine
    >>> rows = [(a, b, "reply", 1, 0, 0) for a, b in
    ...         [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "z"), ("z", "x"),
    ...          ("c", "x")]]
    >>> g = LayerGraph.from_rows(rows)
    >>> t = account_roles(g, ["reply"], [0, 0, 0, 1, 1, 1], engine=get_engine("reference"))
    >>> r = roles_of(t, "c")  # b -> c -> x (b-x not linked), b -> c -> a (b-a not linked)
    >>> r.brokerage.representative, r.brokerage.coordinator, r.betweenness_method
    (1, 1, 'exact')
    >>> round(r.betweenness, 3), round(r.participation, 3)
    (0.6, 0.444)

    References
    ----------
    Guimerà & Amaral, Nature 433 (2005) 895-900. doi:10.1038/nature03288
    Gould & Fernandez, Sociological Methodology 19 (1989) 89-126. doi:10.2307/270949
    Burt, "Structural Holes" (1992), Harvard University Press. doi:10.4159/9780674029095
    Brandes, "A faster algorithm for betweenness centrality", J. Math. Sociol. 25(2)
    (2001) 163-177. doi:10.1080/0022250X.2001.9990249
    Brandes & Pich, "Centrality estimation in large networks", Int. J. Bifurcation and
    Chaos 17(7) (2007) 2303-2318. doi:10.1142/S0218127407018403
    Page, Brin, Motwani & Winograd, "The PageRank citation ranking" (1999), Stanford
    InfoLab 1999-66.
    Kleinberg, "Authoritative sources in a hyperlinked environment", J. ACM 46(5) (1999)
    604-632. doi:10.1145/324133.324140
    """
    kinds = list(kinds)
    memb_all = np.asarray(membership, dtype=np.int64)
    if memb_all.shape != (g.n,):
        raise ValueError(f"membership must have one entry per account ({g.n})")
    usrc, udst, uw = g.undirected(kinds)
    dsrc, ddst, dw = g.directed(kinds)
    active = np.unique(np.concatenate([usrc, udst]))
    n = len(active)
    local = np.full(g.n, -1, dtype=np.int64)
    local[active] = np.arange(n)
    us, ud = local[usrc], local[udst]
    ds, dd = local[dsrc], local[ddst]
    memb = memb_all[active]

    z = within_module_degree(n, us, ud, uw, memb)
    p = participation_coefficient(n, us, ud, uw, memb)
    role = [None if (math.isnan(a) or math.isnan(b)) else guimera_amaral_role(a, b)
            for a, b in zip(z.tolist(), p.tolist())]
    if k is None and n <= betweenness_exact_max_nodes:
        pivots = None
    else:
        pivots = min(n, 1000 if k is None else int(k))
        if pivots >= n:
            pivots = None  # every node a pivot: that is the exact computation
    # the metrics are independent of each other: on a large graph each is a piece of work
    # for another core (graph.analysis.parallel), sampled betweenness in several shares
    shares = _BETWEENNESS_SHARES if pivots is not None else 1
    token = uuid.uuid4().hex
    und, dirw = ("u", n, us, ud, uw), ("d", n, ds, dd, dw)
    pieces = [(token, engine.name, "betweenness", und, {"k": pivots, "seed": seed, "part": (i, shares)})
              for i in range(shares)]
    pieces += [(token, engine.name, "brokerage", ("b", n, ds, dd, memb), {"seed": seed}),
               (token, engine.name, "constraint", und, {}),
               (token, engine.name, "hits", dirw, {}),
               (token, engine.name, "effective_size", und, {}),
               (token, engine.name, "pagerank", dirw, {})]
    try:
        done = parallel.map_pieces(_metric, pieces, work=float(len(us)) * len(pieces))
    finally:
        parallel.forget(token)
    btw = np.sum(done[:shares], axis=0)
    btw_se = betweenness_standard_error(done[:shares]) if pivots is not None else None
    (broker, approx), constraint, (hub, auth), eff, pagerank = done[shares:]
    accounts = [g.nodes[i] for i in active.tolist()]
    brokerage = {name: broker[:, j].tolist() for j, name in enumerate(BROKERAGE_ROLES)}
    return RolesTable(
        kinds=kinds,
        engine=engine.name,
        seed=seed,
        accounts=accounts,
        nodes=active.tolist(),
        community=memb.tolist(),
        z=z.tolist(),
        participation=p.tolist(),
        module_role=role,
        brokerage=brokerage,
        brokerage_role=_dominant(broker),
        brokerage_approximate=[a for a, f in zip(accounts, approx.tolist()) if f],
        constraint=constraint.tolist(),
        effective_size=eff.tolist(),
        betweenness=btw.tolist(),
        betweenness_method="exact" if pivots is None else "sampled",
        pivots=pivots,
        betweenness_se=None if btw_se is None else btw_se.tolist(),
        pagerank=pagerank.tolist(),
        hub=hub.tolist(),
        authority=auth.tolist(),
    )


#: shares of sampled betweenness (``Engine.betweenness(part=)``): fixed, so the sum is
#: the same on any number of cores (and its standard error has shares - 1 degrees of freedom)
_BETWEENNESS_SHARES = 8


def betweenness_standard_error(shares: Sequence[np.ndarray]) -> np.ndarray:
    r"""Standard error of sampled betweenness, from the shares its estimate is the sum of.

    Sampled betweenness sums, over :math:`k` pivots drawn without replacement, each pivot's
    dependencies (Brandes & Pich 2007). Split the pivots into :math:`S` equal shares with
    partial sums :math:`b_s`; each :math:`S b_s` estimates the same betweenness
    :math:`\hat b = \sum_s b_s` from :math:`k / S` pivots, so (batch means)

    .. math:: \widehat{\mathrm{SE}}(\hat b) = \sqrt{\frac{\sum_s (S b_s - \hat b)^2}{S (S - 1)}}

    with :math:`S - 1` degrees of freedom. It leaves out the finite-population correction
    :math:`\sqrt{1 - k/n}` (pivots are drawn without replacement), so it errs on the large
    side when the pivots are a large part of the accounts.

    Parameters
    ----------
    shares : sequence of arrays, one per share, each of length n
        The shares' partial sums (``Engine.betweenness(part=(i, S))``).

    Returns
    -------
    numpy.ndarray
        One standard error per account, in betweenness's own (normalised) units.

    Examples
    --------
    >>> b = betweenness_standard_error([np.array([0.1, 0.0]), np.array([0.3, 0.0])])
    >>> [round(float(v), 6) for v in b]
    [0.2, 0.0]

    References
    ----------
    Brandes & Pich, "Centrality estimation in large networks", Int. J. Bifurcation and
    Chaos 17(7) (2007) 2303-2318. doi:10.1142/S0218127407018403
    """
    parts = np.asarray(shares, dtype=np.float64)
    s = parts.shape[0]
    if s < 2:
        raise ValueError("a standard error needs at least two shares")
    total = parts.sum(axis=0)
    return np.sqrt(((s * parts - total) ** 2).sum(axis=0) / (s * (s - 1)))


def _metric(token: str, engine_name: str, metric: str, graph: tuple, kwargs: dict):
    """One role metric of the graph ``graph = (name, n, arrays...)``. The arrays of one
    call are kept per process, so its pieces share them, and the engine the graph it
    builds from them."""
    name, n, *arrays = graph
    arrays = parallel.kept(token, name, lambda: arrays)
    if metric == "brokerage":
        src, dst, memb = arrays
        return gould_fernandez(n, src, dst, memb, return_approximate=True, **kwargs)
    if metric in _UNWEIGHTED:
        arrays = arrays[:2]
    return getattr(get_engine(engine_name), metric)(n, *arrays, **kwargs)


_UNWEIGHTED = ("betweenness", "effective_size")


def roles_of(table: RolesTable, account: str) -> AccountRoles:
    """All role metrics of one account, read from a :class:`RolesTable`.

    Parameters
    ----------
    table : RolesTable
        From :func:`account_roles`.
    account : str
        Account id.

    Returns
    -------
    AccountRoles

    Raises
    ------
    KeyError
        If the account has no edge in the table's kinds (it was not analysed).

    Examples
    --------
    >>> from graph.analysis.engine import get_engine
    >>> g = LayerGraph.from_rows([("a", "b", "reply", 1, 0, 0)])
    >>> t = account_roles(g, ["reply"], [0, 0], engine=get_engine("fast"))
    >>> roles_of(t, "b").pagerank > roles_of(t, "a").pagerank
    True
    """
    try:
        i = table.accounts.index(account)
    except ValueError:
        raise KeyError(f"account {account!r} has no {'/'.join(table.kinds)} edge") from None
    return AccountRoles(
        account=account,
        community=table.community[i],
        brokerage_role=table.brokerage_role[i],
        module_role=table.module_role[i],
        z=table.z[i],
        participation=table.participation[i],
        brokerage=BrokerageCounts(**{name: values[i] for name, values in table.brokerage.items()}),
        brokerage_approximate=account in table.brokerage_approximate,
        constraint=table.constraint[i],
        effective_size=table.effective_size[i],
        betweenness=table.betweenness[i],
        betweenness_method=table.betweenness_method,
        pivots=table.pivots,
        betweenness_se=None if table.betweenness_se is None else table.betweenness_se[i],
        pagerank=table.pagerank[i],
        hub=table.hub[i],
        authority=table.authority[i],
    )
