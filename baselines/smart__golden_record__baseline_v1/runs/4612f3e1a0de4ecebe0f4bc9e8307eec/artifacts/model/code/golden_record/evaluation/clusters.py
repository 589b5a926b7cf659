"""Clusters (golden records) against the true people: pairwise and B-cubed precision/recall/F1,
adjusted Rand index, people split and golden records merging people."""
from __future__ import annotations

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
    cells, cell_inverse, cell_counts = np.unique(labels * max(n_people, 1) + ent_codes, return_inverse=True,
                                                 return_counts=True)
    cell_inverse = cell_inverse.ravel()
    tp = _pairs(cell_counts)
    predicted, true = _pairs(cluster_sizes), _pairs(people_sizes)
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    in_cell = cell_counts[cell_inverse].astype(np.float64)
    b_precision = float(np.mean(in_cell / cluster_sizes[labels])) if n else 1.0
    b_recall = float(np.mean(in_cell / people_sizes[ent_codes])) if n else 1.0
    total = pairs_within([n])
    expected = predicted * true / total if total else 0.0
    maximum = (predicted + true) / 2
    ari = (tp - expected) / (maximum - expected) if maximum != expected else 1.0
    cell_cluster = cells // max(n_people, 1)
    cell_person = cells % max(n_people, 1)
    clusters_per_person = np.bincount(cell_person, minlength=n_people)
    people_per_cluster = np.bincount(cell_cluster, minlength=len(cluster_sizes))
    split, merged = int((clusters_per_person > 1).sum()), int((people_per_cluster > 1).sum())
    return {
        "golden_true_people": float(n_people),
        "cluster_precision": precision, "cluster_recall": recall,
        "cluster_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "bcubed_precision": b_precision, "bcubed_recall": b_recall,
        "bcubed_f1": 2 * b_precision * b_recall / (b_precision + b_recall) if b_precision + b_recall else 0.0,
        "adjusted_rand_index": float(ari),
        "people_split": float(split), "people_split_share": split / n_people if n_people else 0.0,
        "golden_merged": float(merged),
        "golden_merged_share": merged / len(cluster_sizes) if len(cluster_sizes) else 0.0,
    }
