"""Clusters (golden records) against the true people: pairwise and B-cubed precision/recall/F1,
adjusted Rand index, people split and golden records merging people."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from golden_record.linkage.decision import pairs_within

def _pairs(counts: np.ndarray) -> int:
    return pairs_within(counts)


def cluster_metrics(labels: np.ndarray, entity: np.ndarray) -> dict[str, float]:
    """Clusters (golden records) against the true people.

    * ``cluster_precision`` / ``cluster_recall`` / ``cluster_f1``: pairwise over clusters: of the
      record pairs inside a golden record, the share that are one person; of the record pairs of
      one person, the share inside one golden record;
    * ``bcubed_*``: B-cubed precision and recall (per record: share of its golden record that is
      its person, share of its person that is in its golden record; averaged over records);
    * ``adjusted_rand_index`` of the two partitions;
    * ``people_split_share``: people whose records are spread over several golden records, over
      all people (``people_split`` counts them); ``golden_merged_share``: golden records holding
      records of several people, over all golden records (``golden_merged`` counts them).
    """
    labels = np.asarray(labels, dtype=np.int64)
    ent_codes = pd.factorize(np.asarray(entity))[0].astype(np.int64)
    n = len(labels)
    n_people = int(ent_codes.max()) + 1 if n else 0
    cluster_sizes = np.bincount(labels)
    people_sizes = np.bincount(ent_codes, minlength=n_people)
    cells, cell_counts = np.unique(labels * max(n_people, 1) + ent_codes, return_counts=True)
    cell_cluster = cells // max(n_people, 1)
    cell_person = cells % max(n_people, 1)
    c = cell_counts.astype(np.float64)
    return metrics_from_sums(ClusterSums(
        records=n, people=n_people, clusters=len(cluster_sizes), tp=_pairs(cell_counts),
        predicted=_pairs(cluster_sizes), true=_pairs(people_sizes),
        bcubed_precision_sum=float(np.sum(c * c / cluster_sizes[cell_cluster])) if n else 0.0,
        bcubed_recall_sum=float(np.sum(c * c / people_sizes[cell_person])) if n else 0.0,
        people_split=int((np.bincount(cell_person, minlength=n_people) > 1).sum()),
        golden_merged=int((np.bincount(cell_cluster, minlength=len(cluster_sizes)) > 1).sum())))


@dataclass
class ClusterSums:
    """The sums the cluster metrics come from, over the (golden record, person) cells: the local
    engine adds them up with NumPy, the Spark engine with aggregates (one formula for both)."""
    records: int
    people: int
    clusters: int
    tp: int                       # record pairs inside a cell (one golden record, one person)
    predicted: int                # record pairs inside a golden record
    true: int                     # record pairs of one person
    bcubed_precision_sum: float   # sum over cells of count^2 / golden record size
    bcubed_recall_sum: float      # sum over cells of count^2 / person size
    people_split: int             # people in more than one golden record
    golden_merged: int            # golden records holding more than one person


def metrics_from_sums(s: ClusterSums) -> dict[str, float]:
    """:func:`cluster_metrics` from its sums."""
    n, n_people = s.records, s.people
    precision = s.tp / s.predicted if s.predicted else 1.0
    recall = s.tp / s.true if s.true else 1.0
    b_precision = s.bcubed_precision_sum / n if n else 1.0
    b_recall = s.bcubed_recall_sum / n if n else 1.0
    total = pairs_within([n])
    expected = s.predicted * s.true / total if total else 0.0
    maximum = (s.predicted + s.true) / 2
    ari = (s.tp - expected) / (maximum - expected) if maximum != expected else 1.0
    split, merged = s.people_split, s.golden_merged
    return {
        "golden_true_people": float(n_people),
        "cluster_precision": precision, "cluster_recall": recall,
        "cluster_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "bcubed_precision": b_precision, "bcubed_recall": b_recall,
        "bcubed_f1": 2 * b_precision * b_recall / (b_precision + b_recall) if b_precision + b_recall else 0.0,
        "adjusted_rand_index": float(ari),
        "people_split": float(split), "people_split_share": split / n_people if n_people else 0.0,
        "golden_merged": float(merged),
        "golden_merged_share": merged / s.clusters if s.clusters else 0.0,
    }
