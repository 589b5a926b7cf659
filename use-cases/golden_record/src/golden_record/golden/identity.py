"""Stable golden ids: a rebuild gives each cluster the previous golden id it shares most members
with, so a person's golden id does not change when nothing about them changed.

Given the previous map (record id → golden id) and the new clusters:

* every (new cluster, previous golden id) pair is counted by the records they share, each
  previous id going to at most one cluster and each cluster taking at most one previous id: the
  cluster **keeps** that id. First the previous ids that lie *whole* in one cluster (every one of
  their records still present is in it): a cluster holding several whole (a merge) keeps the
  **oldest**, the smallest id (ids are given out in increasing order: a first build's are member
  record ids, every later one is above all ids used before it; text ids compare as text). Then the
  ids split over several clusters: by shared records, most first (ties: the lower previous id,
  then the lower cluster). So a person whose records are all still together keeps their id even
  when part of another person's records joins them;
* a cluster left without one gets a **new** id: its smallest member record id when no golden id
  ever had that value (the convention of a first build), else the next integer above every id
  used so far (text ids: the smallest member id with ``~2``, ``~3``… appended). An incremental
  run, which sees only part of the map, passes the ids used elsewhere that could clash
  (``used_elsewhere``) and the largest id in use (``id_floor``);
* a previous id left without a cluster is **retired**: it is redirected to the cluster that holds
  most of its former members (reason ``merged``: the person's records now live under another id),
  or, when none of its records is left, to nothing (reason ``records removed``).

All of it vectorised over the records (pandas group-bys); only the greedy assignment walks the
overlap pairs, which number about the clusters.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MERGED, REMOVED = "merged", "records removed"


@dataclass
class Identity:
    golden_ids: np.ndarray                 # one per cluster
    redirects: pd.DataFrame                # old_golden_id, new_golden_id (None: gone), reason
    stats: dict[str, float] = field(default_factory=dict)


def _first_build(record_ids: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """The smallest member id of each cluster (integers numerically, text ids as text)."""
    if np.issubdtype(record_ids.dtype, np.integer):
        out = np.full(n_clusters, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(out, labels, record_ids.astype(np.int64))
        return out
    return pd.Series(record_ids, dtype=object).groupby(labels).min().reindex(range(n_clusters)).to_numpy(dtype=object)


def assign_ids(record_ids: np.ndarray, labels: np.ndarray, n_clusters: int,
               previous: pd.DataFrame | None = None, retired: set | None = None,
               used_elsewhere: set | None = None, id_floor: int | None = None) -> Identity:
    """Golden ids for the clusters ``labels`` (one per record of ``record_ids``).

    ``previous``: the previous map, columns ``record_id`` and ``golden_id`` (None or empty: a first
    build, every id new). ``retired``: golden ids used before and redirected since (never reused).
    ``used_elsewhere`` / ``id_floor``: golden ids in use outside ``previous`` (never given out) and
    the largest integer id in use anywhere (new integer ids go above it), for a partial rebuild.
    """
    record_ids = np.asarray(record_ids)
    labels = np.asarray(labels, dtype=np.int64)
    smallest = _first_build(record_ids, labels, n_clusters)
    if (previous is None or previous.empty) and not used_elsewhere and id_floor is None:
        return Identity(smallest, pd.DataFrame(columns=["old_golden_id", "new_golden_id", "reason"]),
                        {"golden_ids_kept": 0.0, "golden_ids_new": float(n_clusters), "golden_ids_merged": 0.0,
                         "golden_ids_retired": 0.0})
    integer = np.issubdtype(record_ids.dtype, np.integer)
    norm = (lambda v: pd.to_numeric(v).astype(np.int64)) if integer else (lambda v: v.astype(str))
    if previous is None:
        previous = pd.DataFrame({"record_id": record_ids[:0], "golden_id": record_ids[:0]})
    prev_ids = norm(previous["record_id"])
    prev_gid = norm(previous["golden_id"])
    cluster_of = pd.Series(labels, index=norm(pd.Series(record_ids)))
    joined = pd.DataFrame({"cluster": cluster_of.reindex(prev_ids.to_numpy()).to_numpy(), "old": prev_gid.to_numpy()})
    present = joined.dropna(subset=["cluster"]).astype({"cluster": np.int64})
    overlap = present.groupby(["cluster", "old"]).size().rename("shared").reset_index()
    # a previous id whole in one cluster goes first, the oldest (smallest) first; then by shared records
    overlap["split"] = overlap["old"].duplicated(keep=False)
    overlap = overlap.sort_values(["split", "shared", "old", "cluster"], ascending=[True, False, True, True],
                                  kind="stable")
    whole = ~overlap["split"]
    overlap = pd.concat([overlap[whole].sort_values(["old", "cluster"], kind="stable"), overlap[~whole]])

    golden = np.empty(n_clusters, dtype=object)
    taken_cluster = np.zeros(n_clusters, dtype=bool)
    # the usual case at once: a cluster and a previous id that overlap nothing else
    alone = ~overlap["cluster"].duplicated(keep=False) & ~overlap["old"].duplicated(keep=False)
    golden[overlap.loc[alone, "cluster"].to_numpy()] = overlap.loc[alone, "old"].to_numpy()
    taken_cluster[overlap.loc[alone, "cluster"].to_numpy()] = True
    taken_old: set = set(overlap.loc[alone, "old"])
    for cluster, old in zip(overlap.loc[~alone, "cluster"].to_numpy(), overlap.loc[~alone, "old"].to_numpy()):
        if taken_cluster[cluster] or old in taken_old:
            continue
        golden[cluster] = old
        taken_cluster[cluster] = True
        taken_old.add(old)

    used = set(prev_gid.unique()) | set(retired or ()) | set(used_elsewhere or ())
    fresh = np.flatnonzero(~taken_cluster)
    if integer:
        next_id = max([int(x) for x in used] + [int(record_ids.max()) if len(record_ids) else 0,
                                                 int(id_floor or 0)]) + 1
    for cluster in fresh[np.argsort(smallest[fresh], kind="stable")]:
        candidate = smallest[cluster]
        if candidate in used:
            if integer:
                candidate, next_id = next_id, next_id + 1
            else:
                k = 2
                while f"{candidate}~{k}" in used:
                    k += 1
                candidate = f"{candidate}~{k}"
        golden[cluster] = candidate
        used.add(candidate)
    golden = golden.astype(np.int64) if integer else golden

    gone = sorted(set(prev_gid.unique()) - taken_old)
    if gone:
        where = present[present["old"].isin(gone)].copy()
        where["new"] = golden[where["cluster"].to_numpy()]
        best = (where.groupby(["old", "new"]).size().rename("n").reset_index()
                .sort_values(["old", "n", "new"], ascending=[True, False, True], kind="stable")
                .drop_duplicates("old").set_index("old")["new"])
        redirects = pd.DataFrame({"old_golden_id": gone})
        redirects["new_golden_id"] = [best.get(g) for g in gone]
        redirects["reason"] = np.where(redirects["new_golden_id"].isna(), REMOVED, MERGED)
        redirects["new_golden_id"] = redirects["new_golden_id"].astype(object).where(redirects["new_golden_id"].notna(), None)
    else:
        redirects = pd.DataFrame(columns=["old_golden_id", "new_golden_id", "reason"])
    stats = {"golden_ids_kept": float(taken_cluster.sum()), "golden_ids_new": float(len(fresh)),
             "golden_ids_merged": float((redirects["reason"] == MERGED).sum()),
             "golden_ids_retired": float((redirects["reason"] == REMOVED).sum())}
    return Identity(golden, redirects, stats)
