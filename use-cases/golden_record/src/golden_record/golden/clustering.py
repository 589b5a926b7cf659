"""Clustering matched pairs into people: connected components (scipy), then two guards against
chaining: weak edges dropped inside components of more than two records, and a size cap that
keeps a component's strongest edges (a maximum spanning forest refusing oversized unions).

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
                  min_edge_probability: float, max_cluster_size: int, must_link=None, cannot_link=None) -> Clusters:
    """Cluster ``n`` records from scored pairs (positions ``left``/``right``); see the module doc.

    ``must_link`` / ``cannot_link``: optional ``(left, right)`` record positions of pairs labelled
    a match / not a match by a reviewer."""
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
    sizes = np.bincount(labels)
    # 2. weak-edge guard: in components of more than 2 records, drop edges below min_edge_probability
    keep = (sizes[labels[l]] <= 2) | (p >= min_edge_probability) | forced
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
    oversized = sizes[labels[l]] > max_cluster_size
    stats["golden_clusters_oversized"] = float((sizes > max_cluster_size).sum())
    if oversized.any():
        accepted = np.ones(len(l), dtype=bool)
        accepted[oversized] = _capped_forest(l[oversized], r[oversized], p[oversized], max_cluster_size,
                                             forced[oversized])
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
    return Clusters(labels, sizes, confidence, link, stats, contradictions)
