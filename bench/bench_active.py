#!/usr/bin/env python
"""``make bench-active`` (also run by ``make bench``): do labels teach the model (issue 28)?

A simulated reviewer answers the review queue from the ground truth, in rounds: 0, 25, 50, 100
and 200 labels in all. Each round the model is taught every label so far (semi-supervised EM from
the unlabelled fit, :meth:`golden_record.linker.Linker.learn`, the threshold chosen again when it
is ``auto``), then the next batch is taken from the **active** queue of the model just taught
(:func:`golden_record.evaluation.review.active_order`, what ``review/active_pairs.csv`` holds),
or, for comparison, uniformly from the candidate pairs (**random**). Reported per profile and
round: F1 against the truth at the run's threshold, and |estimated F1 - true F1| (the estimate
made from the probabilities alone). The ceiling: the best-threshold F1 of the model taught every
candidate pair's truth. Target (issue 28): on the hardest profiles, 100 active labels close at
least half the gap between the unlabelled F1 and that ceiling, and beat 100 random labels.

In memory with the Linker library (no database, no MLflow); ``--rows`` records per profile
(20,000), seed 7. Results: a table on screen, ``bench/active_learning.png`` and the section between
``<!-- bench-active:begin -->`` and ``<!-- bench-active:end -->`` of ``bench/results.md``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd

from bench_speed import replace_section

from golden_record.config import REPO_ROOT
from golden_record.evaluation.calibration import AUTO_THRESHOLDS, estimate
from golden_record.evaluation.pairs import threshold_metrics
from golden_record.evaluation.review import active_order
from golden_record.linker import Linker
from golden_record.synthetic import profiles

RESULTS = REPO_ROOT / "bench" / "results.md"
FIGURE = REPO_ROOT / "bench" / "active_learning.png"
BEGIN, END = "<!-- bench-active:begin -->", "<!-- bench-active:end -->"
ROUNDS = (0, 25, 50, 100, 200)


def say(text: str) -> None:
    print(text, flush=True)


def figures(lk: Linker) -> dict:
    s = lk.scored
    m = lk.evaluate().metrics
    est = estimate(s.probabilities, lk.config.threshold, missed=s.outside)
    table = threshold_metrics(s.probabilities, s.labels, list(AUTO_THRESHOLDS), s.total_true_pairs)
    return {"f1": m["f1_score"], "estimated_f1": est.f1, "error": abs(est.f1 - m["f1_score"]),
            "best_f1": float(np.nanmax(table["f1_score"].to_numpy(float))), "threshold": lk.config.threshold}


def label_frame(s, idx: np.ndarray) -> pd.DataFrame:
    ids = s.records["record_id"].to_numpy()
    return pd.DataFrame({"left_id": ids[s.pairs.left[idx]], "right_id": ids[s.pairs.right[idx]],
                         "match": s.labels[idx]})


def run_profile(name: str, rows: int, rounds=ROUNDS, seed: int = 7, strategies=("active", "random")) -> tuple[list[dict], dict]:
    p = profiles.get(name)
    data = p.generate(rows, p.default_duplicate_rate or 0.2, seed)
    cfg = p.config()
    truth = data.truth.set_index(cfg.data.truth.id_column)[cfg.data.truth.entity_column]
    started = time.perf_counter()
    lk = Linker(p.config_path).fit(data.records, truth)
    s0 = lk.scored
    out = []
    base = figures(lk)
    say(f"{name}: {len(s0.pairs):,} candidate pairs, unlabelled F1 {base['f1']:.4f} (best threshold "
        f"{base['best_f1']:.4f}), {time.perf_counter() - started:.0f} s")
    for strategy in strategies:
        lk.learn(None)
        chosen = np.empty(0, dtype=np.int64)
        rng = np.random.default_rng(seed)
        for n in rounds:
            want = n - len(chosen)
            if want > 0:
                s = lk.scored
                labelled = np.full(len(s.pairs), -1, dtype=np.int8)
                labelled[chosen] = s.labels[chosen]
                if strategy == "active":
                    new = active_order(s, lk.config.threshold, want, labelled)
                else:
                    left = np.setdiff1d(np.arange(len(s.pairs)), chosen)
                    new = rng.choice(left, size=min(want, len(left)), replace=False)
                chosen = np.concatenate([chosen, new])
                lk.learn(label_frame(s, chosen))
            f = figures(lk) if n else base
            out.append({"profile": name, "strategy": strategy, "labels": n,
                        "labelled_matches": int(s0.labels[chosen].sum()), **f})
            say(f"  {strategy:6s} {n:3d} labels ({int(s0.labels[chosen].sum())} match): F1 {f['f1']:.4f} at "
                f"{f['threshold']:g}, estimated {f['estimated_f1']:.4f} (off by {f['error']:.4f})")
    everything = np.arange(len(s0.pairs))
    lk.learn(label_frame(s0, everything))
    ceiling = figures(lk)
    say(f"  taught every candidate pair's truth: best-threshold F1 {ceiling['best_f1']:.4f}")
    return out, {"profile": name, "rows": rows, "unlabelled_f1": base["f1"], "ceiling_best_f1": ceiling["best_f1"],
                 "seconds": time.perf_counter() - started}


def verdict(rows: pd.DataFrame, ceiling: dict, at: int = 100) -> dict:
    a = rows[(rows.strategy == "active") & (rows.labels == at)].iloc[0]
    r = rows[(rows.strategy == "random") & (rows.labels == at)].iloc[0]
    gap = ceiling["ceiling_best_f1"] - ceiling["unlabelled_f1"]
    closed = (a.f1 - ceiling["unlabelled_f1"]) / gap if gap > 0 else float("nan")
    return {"profile": ceiling["profile"], "unlabelled_f1": ceiling["unlabelled_f1"], "active_f1": a.f1,
            "random_f1": r.f1, "ceiling": ceiling["ceiling_best_f1"], "gap_closed": closed,
            "met": bool(closed >= 0.5 and a.f1 > r.f1)}


def plot(rows: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(rows.profile))
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7), squeeze=False)
    for j, name in enumerate(names):
        for strategy, style in (("active", "-o"), ("random", "--s")):
            part = rows[(rows.profile == name) & (rows.strategy == strategy)]
            axes[0, j].plot(part.labels, part.f1, style, label=f"{strategy} queue")
            axes[1, j].plot(part.labels, part.error, style, label=f"{strategy} queue")
        axes[0, j].set_title(name)
        axes[0, j].set_ylabel("F1 against the truth")
        axes[1, j].set_ylabel("|estimated F1 - true F1|")
        for i in range(2):
            axes[i, j].set_xlabel("labels")
            axes[i, j].legend()
    fig.suptitle("Active learning: F1 and estimate error against labels (simulated reviewer)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(rows: pd.DataFrame, verdicts: list[dict], rows_per_profile: int) -> None:
    lines = [BEGIN, "## Active learning", "",
             f"`make bench-active` (bench/bench_active.py): {rows_per_profile:,} records per profile, seed 7, a simulated "
             "reviewer answering from the truth; each round the model is taught every label so far (semi-supervised "
             "EM) and the next batch comes from the active queue of that model, or uniformly from the candidate "
             "pairs (random). F1 against the truth at the run's threshold; |est - true|: the F1 estimated from the "
             "probabilities against the true F1. Figure: bench/active_learning.png.", "",
             "| profile | queue | labels | matches among them | F1 | estimated F1 | abs(est - true) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows.itertuples():
        lines.append(f"| {r.profile} | {r.strategy} | {r.labels} | {r.labelled_matches} | {r.f1:.4f} | "
                     f"{r.estimated_f1:.4f} | {r.error:.4f} |")
    lines += ["", "Target: 100 active labels close at least half the gap between the unlabelled F1 and the "
              "best-threshold F1 of the model taught every candidate pair's truth, and beat 100 random labels.", "",
              "| profile | unlabelled F1 | 100 active | 100 random | ceiling | gap closed | met |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for v in verdicts:
        lines.append(f"| {v['profile']} | {v['unlabelled_f1']:.4f} | {v['active_f1']:.4f} | {v['random_f1']:.4f} | "
                     f"{v['ceiling']:.4f} | {v['gap_closed']:.0%} | {'yes' if v['met'] else 'no'} |")
    lines.append(END)
    replace_section("bench-active", "\n".join(lines), RESULTS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", default="sparse,historical,crm", help="comma-separated seeder profiles")
    ap.add_argument("--rows", type=int, default=20_000, help="records per profile (default 20,000)")
    ap.add_argument("--no-write", action="store_true", help="print only: leave bench/results.md and the figure")
    args = ap.parse_args(argv)
    rows, ceilings = [], []
    for name in [p.strip() for p in args.profiles.split(",") if p.strip()]:
        r, c = run_profile(name, args.rows)
        rows += r
        ceilings.append(c)
    frame = pd.DataFrame(rows)
    verdicts = [verdict(frame[frame.profile == c["profile"]], c) for c in ceilings]
    for v in verdicts:
        say(f"{v['profile']}: unlabelled {v['unlabelled_f1']:.4f}, 100 active {v['active_f1']:.4f}, 100 random "
            f"{v['random_f1']:.4f}, ceiling {v['ceiling']:.4f}: {v['gap_closed']:.0%} of the gap closed "
            f"({'met' if v['met'] else 'NOT met'})")
    if not args.no_write:
        plot(frame, FIGURE)
        write_results(frame, verdicts, args.rows)
        say(f"wrote {RESULTS} and {FIGURE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
