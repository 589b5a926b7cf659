"""The blocking passes in order, as a table: what each pass makes and adds, and (with a ground
truth) how many true pairs the passes reach together (``golden-record blocking``, and the
blocking chart of a training run).

Built from what :func:`golden_record.linkage.blocking.generate` reports: the union of the passes
lists the pairs in pass order (a pair first made by pass k before those first made by pass k + 1),
so the labels of the union's pairs, cut by each pass's ``new_pairs``, say how many true pairs
each pass adds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.linkage.blocking import PassReport
from golden_record.linkage.keys import WHOLE_TABLE

COLUMNS = ["pass", "pairs", "new_pairs", "cumulative_pairs", "blocks", "skipped_blocks", "skipped_records",
           "largest_block", "largest_block_key"]
TRUTH_COLUMNS = ["true_pairs", "new_true_pairs", "cumulative_true_pairs", "pairs_completeness"]


def pass_table(passes: list[PassReport], labels: np.ndarray | None = None,
               total_true_pairs: int | None = None) -> pd.DataFrame:
    """One row per pass, in order. ``labels``: per pair of the union (in its order), whether the two
    records are one person; with ``total_true_pairs`` the cumulative pairs completeness (share of
    every true pair of the table the passes so far reach). ``true_pairs`` (a pass's own true pairs)
    is there when :func:`generate` was given the truth, else empty."""
    new = np.array([p.new_pairs for p in passes], dtype=np.int64)
    rows = pd.DataFrame({
        "pass": [p.name for p in passes], "pairs": [p.pairs for p in passes], "new_pairs": new,
        "cumulative_pairs": np.cumsum(new), "blocks": [p.blocks for p in passes],
        "skipped_blocks": [p.skipped_blocks for p in passes], "skipped_records": [p.skipped_records for p in passes],
        "largest_block": [p.largest_blocks[0][1] if p.largest_blocks else 0 for p in passes],
        "largest_block_key": [p.largest_blocks[0][0] if p.largest_blocks else "" for p in passes]},
        columns=COLUMNS)
    if labels is None:
        return rows
    labels = np.asarray(labels, dtype=bool)
    if len(labels) != int(new.sum()):
        raise ValueError(f"{len(labels):,} labels for a union of {int(new.sum()):,} pairs")
    found = np.concatenate(([0], np.cumsum(labels)))
    ends = np.cumsum(new)
    rows["true_pairs"] = pd.array([p.true_pairs for p in passes], dtype="Int64")
    rows["new_true_pairs"] = found[ends] - found[ends - new]
    rows["cumulative_true_pairs"] = found[ends]
    rows["pairs_completeness"] = (found[ends] / total_true_pairs if total_true_pairs
                                  else np.full(len(passes), np.nan))
    return rows


def lines(table: pd.DataFrame, passes: list[PassReport], max_block_size: int) -> list[str]:
    """The table as the command prints it: one line per pass, then each pass's largest blocks."""
    truth = "pairs_completeness" in table.columns
    out = [f"  {'pass':<50} {'pairs':>11} {'new pairs':>11} {'cumulative':>11} {'blocks':>9}"
           + (f" {'true pairs':>10} {'new true':>9} {'completeness':>12}" if truth else "")]
    for row in table.to_dict(orient="records"):
        line = (f"  {row['pass']:<50} {row['pairs']:>11,} {row['new_pairs']:>11,} {row['cumulative_pairs']:>11,} "
                f"{row['blocks']:>9,}")
        if truth:
            own = "" if pd.isna(row["true_pairs"]) else f"{int(row['true_pairs']):,}"
            line += f" {own:>10} {row['new_true_pairs']:>9,} {row['pairs_completeness']:>12.4f}"
        out.append(line)
    out.append(f"  largest blocks (records; more than candidates.max_block_size={max_block_size} are skipped):")
    for p in passes:
        blocks = ", ".join(f"{key!r} {size:,}" + (" skipped" if size > max_block_size and p.name != WHOLE_TABLE else "")
                           for key, size in (p.largest_blocks or [])) or (
            "no blocks: a window sliding over the sorted records" if p.name.startswith("sorted_neighbourhood")
            else "no block of 2 or more records")
        out.append(f"    {p.name}: {blocks}")
        if p.skipped_blocks:
            out.append(f"    {p.name}: {p.skipped_blocks:,} blocks of more than {max_block_size} records skipped "
                       f"({p.skipped_records:,} records never compared by this pass)")
    return out
