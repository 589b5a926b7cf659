"""Clustering matched pairs into people: connected components (scipy), then two guards against
chaining: weak edges dropped inside components of more than two records, and a size cap that
keeps a component's strongest edges (a maximum spanning forest refusing oversized unions)."""
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

    @property
    def n_clusters(self) -> int:
        return len(self.sizes)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _capped_forest(left: np.ndarray, right: np.ndarray, prob: np.ndarray, cap: int) -> np.ndarray:
    """Boolean mask of edges accepted by Kruskal (strongest first) under a cluster-size cap."""
    order = np.lexsort((right, left, -prob))          # descending probability, ties deterministic
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
        if sa + sb > cap:
            continue
        if sa < sb:
            a, b = b, a
        parent[b] = a
        size[a] = sa + sb
        accepted[e] = True
    return accepted


def cluster_pairs(n: int, left: np.ndarray, right: np.ndarray, probabilities: np.ndarray, threshold: float,
                  min_edge_probability: float, max_cluster_size: int) -> Clusters:
    """Cluster ``n`` records from scored pairs (positions ``left``/``right``); see the module doc."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    prob = np.asarray(probabilities, dtype=np.float64)
    match = is_match(prob, threshold)
    l, r, p = left[match], right[match], prob[match]
    stats: dict[str, float] = {"golden_match_edges": float(len(l))}

    # 1. connected components of the match edges
    labels = _components(n, l, r)
    sizes = np.bincount(labels)
    # 2. weak-edge guard: in components of more than 2 records, drop edges below min_edge_probability
    keep = (sizes[labels[l]] <= 2) | (p >= min_edge_probability)
    stats["golden_edges_dropped_weak"] = float((~keep).sum())
    if not keep.all():
        before = len(sizes)
        l, r, p = l[keep], r[keep], p[keep]
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
        accepted[oversized] = _capped_forest(l[oversized], r[oversized], p[oversized], max_cluster_size)
        before = len(sizes)
        labels = _components(n, l[accepted], r[accepted])
        sizes = np.bincount(labels)
        stats["golden_clusters_split_size"] = float(len(sizes) - before)
    else:
        stats["golden_clusters_split_size"] = 0.0
    # kept edges inside the final clusters: confidence and link probability
    inside = labels[l] == labels[r]
    stats["golden_edges_cut_size"] = float((~inside).sum())
    li, ri, pi = l[inside], r[inside], p[inside]
    stats["golden_edges_kept"] = float(len(li))
    confidence = np.ones(len(sizes))
    np.minimum.at(confidence, labels[li], pi)
    link = np.zeros(n)
    np.maximum.at(link, li, pi)
    np.maximum.at(link, ri, pi)
    link[sizes[labels] == 1] = 1.0
    return Clusters(labels, sizes, confidence, link, stats)
