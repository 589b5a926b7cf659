"""Clustering matched pairs into people: connected components (scipy), then two guards against
chaining: a chaining guard inside components of more than two records, and a size cap that keeps
a component's strongest edges (a maximum spanning forest refusing oversized unions).

Both guards are derived from the data by default (``golden.min_edge_probability: auto``,
``golden.max_cluster_size: auto``); an explicit number is honoured as before.

**Chaining guard, auto** (:func:`_link_groups`): evidence against the rest of the cluster, not a
fixed probability on each edge. Inside a component of more than two records, groups of records
are merged, best linked first, from single records up (average linkage, in vectorised rounds:
each round every group finds its best partner among the groups it may merge with, and mutual best
partners merge). Two groups may merge only when *all* the scored pairs between them (candidate
pairs below the threshold too) say so:

* one confident match: their strongest pair reaches :data:`STRONG_LINK` (0.99, the old
  per-edge floor, now asked of one pair between the groups: on the seeded people table namesakes
  score 0.98-0.998 on every pair, a person's records 1.0 on some pair), or many matches: at
  least :data:`MANY_LINKS` (5) matching pairs covering half the record pairs between the groups
  (a corrupted copy that matches most of its person's records, each only weakly, stays);
* the pairs are mostly matches: each pair's log-odds, capped at ±log(99), add up to more than
  zero, so a chain A-B-C where A-C scores a clear non-match (p <= 0.01) is split while a record
  that matches most members of its cluster stays;
* enough of the record pairs between the groups are matches (:data:`MIN_LINK_DENSITY`, a fifth):
  one link between two groups of five records whose other 24 pairs blocking never produced
  is a chain, not one person.

Components of one or two records are kept as they are; records joined by labelled matches start
in one group. With a number, the guard is the old one: edges below ``min_edge_probability`` are
dropped in components of more than two records and the component re-split.

**Size cap, auto** (:func:`derive_max_cluster_size`): each record with a match expects
``1 + sum of the match probabilities of its scored pairs`` records of its person; the cap is
twice the 99th percentile of that (rounded) over the records with a match, bounded to
:data:`CAP_BOUNDS`. Computed once on the whole table (the Spark engine from aggregates, then
passed to every bucket).

Clerical review labels, when given, constrain the clusters:

* a pair labelled ``match`` (``must_link``) is always linked, candidate pair or not, above the
  threshold or not: its edge counts as probability 1 and no guard removes it (the size cap lets it
  through);
* a pair labelled ``not_match`` (``cannot_link``) never ends in one cluster: a component holding
  both records is rebuilt by Kruskal's algorithm on its edges (labelled matches first, then by
  probability, strongest first) refusing any union that would put a labelled non-match pair
  together, so the weakest links between them are the ones cut. Only the components holding such a
  pair go through this loop; all others stay on the vectorised connected components.
* contradictory labels (a chain of ``match`` labels joining a ``not_match`` pair): the
  ``not_match`` label wins, the ``match`` label that would close the chain is not applied, and it is
  counted (``golden_label_contradictions``; :attr:`Clusters.contradictions` holds the pairs). A
  wrong merge mixes two people's values in one golden record; a missed link leaves a duplicate
  that the next review can fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from golden_record.linkage.decision import is_match

AUTO = "auto"
#: the auto chaining guard: the strongest pair between two groups must reach this probability,
STRONG_LINK = 0.99
#: ... unless at least this many of their pairs are matches, covering at least this share of the
#: record pairs between them (a record that matches many members of its cluster stays)
MANY_LINKS, MANY_LINKS_DENSITY = 5, 0.5
#: ... and at least this share of the record pairs between them must be scored matches
MIN_LINK_DENSITY = 0.2
#: a pair's log-odds count at most this much, for or against (log 99: p 0.99 / 0.01)
_LOG_ODDS_CAP = float(np.log(99.0))
#: the auto size cap: margin x the quantile of the records' expected person size, within bounds
CAP_QUANTILE, CAP_MARGIN, CAP_BOUNDS = 0.99, 2.0, (10, 500)


@dataclass
class Clusters:
    """Cluster of every record position, with per-cluster and per-record figures."""
    labels: np.ndarray              # cluster index (0..k-1) per record position
    sizes: np.ndarray               # records per cluster
    confidence: np.ndarray          # per cluster: lowest kept edge probability inside (1.0 singletons)
    link_probability: np.ndarray    # per record: best kept edge probability into its cluster (1.0 singletons)
    stats: dict[str, float] = field(default_factory=dict)
    #: labelled matches not applied because they would join a labelled non-match pair (positions)
    contradictions: list[tuple[int, int]] = field(default_factory=list)
    #: what the guards were and why (the auto size cap's value and how it was derived), for people
    notes: list[str] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _capped_forest(left: np.ndarray, right: np.ndarray, prob: np.ndarray, cap: int,
                   forced: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of edges accepted by Kruskal (strongest first) under a cluster-size cap;
    ``forced`` edges (labelled matches) come first and are accepted whatever the cap."""
    forced = np.zeros(len(left), dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    order = np.lexsort((right, left, -prob, ~forced))  # forced first, then descending probability
    parent = {}
    size = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:               # path compression
            parent[x], x = root, parent[x]
        return root

    accepted = np.zeros(len(left), dtype=bool)
    for e in order.tolist():
        a, b = find(int(left[e])), find(int(right[e]))
        if a == b:
            continue
        sa, sb = size.get(a, 1), size.get(b, 1)
        if sa + sb > cap and not forced[e]:
            continue
        if sa < sb:
            a, b = b, a
        parent[b] = a
        size[a] = sa + sb
        accepted[e] = True
    return accepted


def _cannot_link_forest(left: np.ndarray, right: np.ndarray, prob: np.ndarray, forced: np.ndarray,
                        cannot_left: np.ndarray, cannot_right: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Kruskal (labelled matches first, then strongest first) refusing every union that would put
    a cannot-link pair in one tree. Returns the accepted edges and the forced edges refused."""
    order = np.lexsort((right, left, -prob, ~forced))
    parent: dict[int, int] = {}
    apart: dict[int, set[int]] = {}                  # root -> records it must stay apart from
    for a, b in zip(cannot_left.tolist(), cannot_right.tolist()):
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    accepted = np.zeros(len(left), dtype=bool)
    refused_forced: list[int] = []
    for e in order.tolist():
        a, b = find(int(left[e])), find(int(right[e]))
        if a == b:
            continue
        sa, sb = apart.get(a, set()), apart.get(b, set())
        if len(sa) > len(sb):                         # look through the smaller set
            a, b, sa, sb = b, a, sb, sa
        if any(find(x) == b for x in sa):
            if forced[e]:
                refused_forced.append(e)
            continue
        parent[a] = b
        if sa:
            apart[b] = sb | sa
            apart.pop(a, None)
        accepted[e] = True
    return accepted, refused_forced


def expected_person_sizes(n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray,
                          threshold: float) -> np.ndarray:
    """Per record with at least one match: the records its person is expected to have, ``1 + the
    sum of the match probabilities of its scored pairs``, rounded to a whole number."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    total = np.bincount(left, prob, minlength=n) + np.bincount(right, prob, minlength=n)
    match = is_match(prob, threshold)
    linked = (np.bincount(left[match], minlength=n) + np.bincount(right[match], minlength=n)) > 0
    return np.floor(1.0 + total[linked] + 0.5).astype(np.int64)


def cap_from_histogram(values: np.ndarray, counts: np.ndarray) -> tuple[int, str]:
    """The auto size cap from the histogram of :func:`expected_person_sizes` (distinct values,
    records of each; both engines): ``CAP_MARGIN`` x its ``CAP_QUANTILE`` quantile, within
    ``CAP_BOUNDS``; and the sentence saying why."""
    values, counts = np.asarray(values, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    keep = counts > 0
    values, counts = values[keep], counts[keep]
    low, high = CAP_BOUNDS
    if not len(values):
        return low, f"golden.max_cluster_size auto: {low} (no match: the lower bound)"
    order = np.argsort(values)
    values, counts = values[order], counts[order]
    share = np.cumsum(counts) / counts.sum()
    q = int(values[min(int(np.searchsorted(share, CAP_QUANTILE - 1e-12)), len(values) - 1)])
    cap = int(min(max(int(np.ceil(CAP_MARGIN * q)), low), high))
    bound = " (the lower bound)" if cap == low and CAP_MARGIN * q < low else \
        " (the upper bound)" if cap == high and CAP_MARGIN * q > high else ""
    return cap, (f"golden.max_cluster_size auto: {cap}{bound}: {CAP_MARGIN:g} x {q}, the records' expected person "
                 f"size at its {CAP_QUANTILE:.0%} quantile (1 + the sum of the match probabilities of a record's "
                 f"pairs, over the {int(counts.sum()):,} records with a match; largest {int(values[-1])}), "
                 f"bounded to {low}..{high}")


def derive_max_cluster_size(n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray,
                            threshold: float) -> tuple[int, str]:
    """``golden.max_cluster_size: auto`` for these scored pairs: (cap, why)."""
    sizes = expected_person_sizes(n, left, right, prob, threshold)
    values, counts = np.unique(sizes, return_counts=True)
    return cap_from_histogram(values, counts)


def _segments(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order sorting ``key``, start of each run of equal keys in that order, the distinct keys)."""
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]])) if len(k) else np.empty(0, np.int64)
    return order, starts, k[starts]


def _link_groups(n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, threshold: float,
                 labels: np.ndarray, sizes: np.ndarray, forced_left: np.ndarray,
                 forced_right: np.ndarray) -> tuple[np.ndarray, int]:
    """The auto chaining guard (module doc): groups of records inside the components ``labels``
    of the match graph, merged best linked first when the scored pairs ``left``/``right``/``prob``
    between two groups say so. Returns (group per record, rounds)."""
    strong = max(STRONG_LINK, float(threshold))
    big = sizes[labels] > 2
    # starting groups: a component of one or two records is one group; in the others every record
    # starts alone, but the records labelled matches join start together
    together = _components(n, forced_left, forced_right) if len(forced_left) else np.arange(n, dtype=np.int64)
    start = np.where(big, len(sizes) + together, labels)
    g = np.unique(start, return_inverse=True)[1].astype(np.int64).ravel()
    k = int(g.max()) + 1 if n else 0
    gsize = np.bincount(g, minlength=k).astype(np.float64)
    inside = big[left] & (labels[left] == labels[right]) & (left != right)
    L, R, P = left[inside], right[inside], prob[inside]
    W = np.clip(np.log(np.clip(P, 1e-300, None)) - np.log(np.clip(1.0 - P, 1e-300, None)),
                -_LOG_ODDS_CAP, _LOG_ODDS_CAP)
    M = is_match(P, threshold).astype(np.float64)
    rounds = 0
    while len(L):
        gl, gr = g[L], g[R]
        cross = gl != gr
        if not cross.all():
            L, R, P, W, M, gl, gr = L[cross], R[cross], P[cross], W[cross], M[cross], gl[cross], gr[cross]
            if not len(L):
                break
        a, b = np.minimum(gl, gr), np.maximum(gl, gr)
        order, starts, key = _segments(a * np.int64(k) + b)
        ga, gb = key // k, key % k
        count = np.diff(np.append(starts, len(order)))
        strongest = np.maximum.reduceat(P[order], starts)
        weight = np.add.reduceat(W[order], starts)
        matches = np.add.reduceat(M[order], starts)
        # rounded: the engines add the pairs in other orders; the last bits must not decide
        mean = np.round(np.add.reduceat(P[order], starts) / count, 12)
        pairs_between = gsize[ga] * gsize[gb]
        confident = (strongest >= strong) | ((matches >= MANY_LINKS) & (matches >= MANY_LINKS_DENSITY * pairs_between))
        ok = confident & (weight > 1e-9) & (matches >= MIN_LINK_DENSITY * pairs_between)
        if not ok.any():
            break
        rounds += 1           # rounds that merged: the most any component needed (a bucket's too)
        # every group's best partner (highest mean probability, then the smaller group id); mutual
        # best partners merge (there is always one: the best pair of the smallest group among the best)
        grp = np.concatenate([ga[ok], gb[ok]])
        par = np.concatenate([gb[ok], ga[ok]])
        score = np.concatenate([mean[ok], mean[ok]])
        o = np.lexsort((par, -score, grp))
        grp, par = grp[o], par[o]
        first = np.concatenate([[True], grp[1:] != grp[:-1]])
        best = np.full(k, -1, dtype=np.int64)
        best[grp[first]] = par[first]
        x = grp[first]
        y = best[x]
        mutual = (best[y] == x) & (x < y)
        x, y = x[mutual], y[mutual]
        gsize[x] += gsize[y]
        gsize[y] = 0
        relabel = np.arange(k, dtype=np.int64)
        relabel[y] = x
        g = relabel[g]
        # a component without a pair of groups that may merge is final: drop its pairs
        live = np.zeros(len(sizes), dtype=bool)
        live[labels[L[order[starts[ok]]]]] = True
        keep = live[labels[L]]
        L, R, P, W, M = L[keep], R[keep], P[keep], W[keep], M[keep]
    return np.unique(g, return_inverse=True)[1].astype(np.int64).ravel(), rounds


def _label_pairs(pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) positions of labelled pairs, ordered left < right, distinct, in range."""
    if pairs is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = (np.asarray(x, dtype=np.int64) for x in pairs)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ok = (lo != hi) & (lo >= 0) & (hi < n)
    if not ok.all():
        raise ValueError(f"{int((~ok).sum())} labelled pairs name a record position outside 0..{n - 1} or "
                         "the same record twice")
    key = np.unique(lo * np.int64(max(n, 1)) + hi)
    return key // max(n, 1), key % max(n, 1)


def cluster_pairs(n: int, left: np.ndarray, right: np.ndarray, probabilities: np.ndarray, threshold: float,
                  min_edge_probability: float | str = AUTO, max_cluster_size: int | str = AUTO, must_link=None,
                  cannot_link=None) -> Clusters:
    """Cluster ``n`` records from scored pairs (positions ``left``/``right``); see the module doc.

    The scored pairs are all the candidate pairs, those below the threshold too (the auto
    chaining guard weighs them). ``min_edge_probability`` / ``max_cluster_size``: ``"auto"``
    (derived from these pairs, module doc) or a number. ``must_link`` / ``cannot_link``: optional
    ``(left, right)`` record positions of pairs labelled a match / not a match by a reviewer."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    prob = np.asarray(probabilities, dtype=np.float64)
    match = is_match(prob, threshold)
    l, r, p = left[match], right[match], prob[match]
    stats: dict[str, float] = {"golden_match_edges": float(len(l))}
    forced = np.zeros(len(l), dtype=bool)
    ml_l, ml_r = _label_pairs(must_link, n)
    cl_l, cl_r = _label_pairs(cannot_link, n)
    if must_link is not None or cannot_link is not None:
        stats["golden_labels_match"] = float(len(ml_l))
        stats["golden_labels_not_match"] = float(len(cl_l))
    if len(ml_l):
        # 0. labelled matches: always an edge, of probability 1 (a person confirmed it)
        lo, hi = np.minimum(l, r), np.maximum(l, r)
        key = lo * np.int64(n) + hi
        order = np.argsort(key, kind="stable")
        pos = np.minimum(np.searchsorted(key[order], ml_l * np.int64(n) + ml_r), max(len(key) - 1, 0))
        present = (key[order][pos] == ml_l * np.int64(n) + ml_r) if len(key) else np.zeros(len(ml_l), bool)
        existing = order[pos[present]]
        forced[existing], p = True, p.copy()
        p[existing] = 1.0
        new = ~present
        l = np.concatenate([l, ml_l[new]])
        r = np.concatenate([r, ml_r[new]])
        p = np.concatenate([p, np.ones(int(new.sum()))])
        forced = np.concatenate([forced, np.ones(int(new.sum()), dtype=bool)])
        stats["golden_links_forced"] = float(new.sum())   # labelled matches the model did not link
    elif must_link is not None:
        stats["golden_links_forced"] = 0.0

    # 1. connected components of the match edges
    labels = _components(n, l, r)
    sizes = np.bincount(labels, minlength=1) if n else np.zeros(0, np.int64)
    notes: list[str] = []
    # 2. chaining guard, inside components of more than 2 records
    if min_edge_probability == AUTO:
        before = len(sizes)
        labels, rounds = _link_groups(n, left, right, prob, threshold, labels, sizes, l[forced], r[forced])
        sizes = np.bincount(labels, minlength=1) if n else np.zeros(0, np.int64)
        keep = (labels[l] == labels[r]) | forced
        stats["golden_edges_dropped_weak"] = float((~keep).sum())
        stats["golden_clusters_split_weak"] = float(len(sizes) - before)
        stats["golden_chaining_rounds"] = float(rounds)
        l, r, p, forced = l[keep], r[keep], p[keep], forced[keep]
    else:
        # the old per-edge floor: in components of more than 2 records, drop edges below it
        keep = (sizes[labels[l]] <= 2) | (p >= float(min_edge_probability)) | forced
        stats["golden_edges_dropped_weak"] = float((~keep).sum())
        if not keep.all():
            before = len(sizes)
            l, r, p, forced = l[keep], r[keep], p[keep], forced[keep]
            labels = _components(n, l, r)
            sizes = np.bincount(labels)
            stats["golden_clusters_split_weak"] = float(len(sizes) - before)
        else:
            stats["golden_clusters_split_weak"] = 0.0
    # 3. size cap: rebuild oversized components from their strongest edges
    if max_cluster_size == AUTO:
        cap, why = derive_max_cluster_size(n, left, right, prob, threshold)
        notes.append(why)
    else:
        cap = int(max_cluster_size)
    stats["golden_max_cluster_size"] = float(cap)
    oversized = sizes[labels[l]] > cap
    stats["golden_clusters_oversized"] = float((sizes > cap).sum())
    if oversized.any():
        accepted = np.ones(len(l), dtype=bool)
        accepted[oversized] = _capped_forest(l[oversized], r[oversized], p[oversized], cap, forced[oversized])
        before = len(sizes)
        labels = _components(n, l[accepted], r[accepted])
        sizes = np.bincount(labels)
        stats["golden_clusters_split_size"] = float(len(sizes) - before)
    else:
        stats["golden_clusters_split_size"] = 0.0
    inside = labels[l] == labels[r]
    stats["golden_edges_cut_size"] = float((~inside).sum())
    # 4. labelled non-matches: rebuild only the components that hold one
    contradictions: list[tuple[int, int]] = []
    if cannot_link is not None:
        together = labels[cl_l] == labels[cl_r]
        stats["golden_clusters_split_labels"] = 0.0
        stats["golden_edges_dropped_labels"] = 0.0
        stats["golden_label_contradictions"] = 0.0
        if together.any():
            l, r, p, forced = l[inside], r[inside], p[inside], forced[inside]
            hit = np.zeros(len(sizes), dtype=bool)
            hit[labels[cl_l[together]]] = True
            slow = hit[labels[l]]
            accepted = np.ones(len(l), dtype=bool)
            in_hit = hit[labels[cl_l]]
            accepted[slow], refused = _cannot_link_forest(l[slow], r[slow], p[slow], forced[slow],
                                                          cl_l[in_hit], cl_r[in_hit])
            slow_idx = np.flatnonzero(slow)
            contradictions = [(int(l[slow_idx[e]]), int(r[slow_idx[e]])) for e in refused]
            before = len(sizes)
            labels = _components(n, l[accepted], r[accepted])
            sizes = np.bincount(labels)
            inside = labels[l] == labels[r]
            stats["golden_clusters_split_labels"] = float(len(sizes) - before)
            stats["golden_edges_dropped_labels"] = float((~inside).sum())
            stats["golden_label_contradictions"] = float(len(contradictions))
    # kept edges inside the final clusters: confidence and link probability
    li, ri, pi = l[inside], r[inside], p[inside]
    stats["golden_edges_kept"] = float(len(li))
    confidence = np.ones(len(sizes))
    np.minimum.at(confidence, labels[li], pi)
    link = np.zeros(n)
    np.maximum.at(link, li, pi)
    np.maximum.at(link, ri, pi)
    link[sizes[labels] == 1] = 1.0
    return Clusters(labels, sizes, confidence, link, stats, contradictions, notes)
