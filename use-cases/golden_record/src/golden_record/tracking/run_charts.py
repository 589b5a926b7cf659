"""The interactive HTML charts of a training run (:mod:`golden_record.tracking.charts`), logged
next to its PNGs: ``plots/match_weights.html``, ``plots/threshold_sweep.html``,
``plots/blocking.html``, ``explanations/waterfalls.html`` and ``data_profile.html`` (the profile
of the fields the run loaded, as ``golden-record profile`` prints it).

What a chart needs every pair for (the blocking passes in order, the candidate pairs at each
comparison level, the profile of the records) exists on the local engine only: a run on Spark
(whose pairs stay on Spark; :mod:`golden_record.spark.view`) draws the match weights without the
pair counts, the threshold sweep and the waterfalls, and says which it left out
(:data:`SPARK_NOTE`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from golden_record.evaluation.calibration import AUTO_THRESHOLDS, estimates_at
from golden_record.evaluation.pairs import threshold_metrics
from golden_record.linkage.explain import prior_weight
from golden_record.linkage.pass_table import pass_table
from golden_record.linkage.profiling import summarise
from golden_record.tracking import charts

SPARK_NOTE = ("engine spark: plots/blocking.html and data_profile.html are not drawn and match_weights.html has no "
              "pair counts (the pairs and records stay on Spark)")


def sweep_table(figures, total_true_pairs: int | None):
    """Precision, recall and F1 at the thresholds ``auto`` chooses among: against the ground truth
    when there is one (``total_true_pairs``), else estimated from the probabilities."""
    if figures.labels is not None and total_true_pairs is not None:
        return threshold_metrics(figures.probabilities, figures.labels, list(AUTO_THRESHOLDS), total_true_pairs,
                                 counts=figures.counts), True
    est = estimates_at(figures.probabilities, list(AUTO_THRESHOLDS), counts=figures.counts)
    return est.rename(columns={"estimated_precision": "precision", "estimated_recall": "recall",
                               "estimated_f1": "f1_score", "predicted_matches": "match_pairs"}), False


def sweep_page(path: Path, table, threshold: float | None, title: str) -> Path:
    """A sweep's chart (``golden-record train --sweep``): its children's precision, recall and F1
    against the ground truth, or the labelled ones without it (``sweep_results.csv``'s columns)."""
    labelled = "f1_score" not in table.columns
    if labelled:
        table = table.rename(columns={"labelled_precision": "precision", "labelled_recall": "recall",
                                      "labelled_f1": "f1_score"})
    return charts.write_page(path, title, [charts.threshold_sweep_chart(
        table, threshold, title, "recall" if labelled else "recall (all true pairs)")])


def chart_jobs(scored, evaluation, threshold: float, figures, explanations: list,
               max_block_size: int | None) -> list[tuple[str, object]]:
    """(artifact path, write(folder)) of every HTML chart of the run. ``explanations``: (title,
    :class:`~golden_record.linkage.explain.Explanation`) of the waterfalls the run draws."""
    model = scored.model
    local = scored.sampled is None and figures.counts is None        # every pair is here
    table = model.m_u_table()

    def weights(folder: Path) -> None:
        counts = (charts.level_counts(scored.vectors.levels, [len(x) for x in scored.vectors.labels])
                  if local else None)
        charts.write_page(folder / "plots" / "match_weights.html", "Match weights of the model",
                          [charts.match_weights_chart(table, prior_weight(model), counts)])

    def sweep(folder: Path) -> None:
        total = int(evaluation.metrics["true_match_pairs"]) if evaluation is not None else None
        data, truth = sweep_table(figures, total)
        title = ("Precision, recall and F1 by threshold (against the ground truth)" if truth else
                 "Estimated precision, recall and F1 by threshold (from the match probabilities, no ground truth)")
        charts.write_page(folder / "plots" / "threshold_sweep.html", title, [charts.threshold_sweep_chart(
            data, threshold, title, "recall (all true pairs)" if truth else "recall")])

    def blocking(folder: Path) -> None:
        total = int(evaluation.metrics["true_match_pairs"]) if evaluation is not None else None
        passes = pass_table(scored.pairs.passes, scored.labels if total is not None else None, total)
        charts.blocking_page(folder / "plots" / "blocking.html", passes,
                             f"Blocking passes of the run: {len(scored.pairs):,} candidate pairs of "
                             f"{scored.n_records:,} records", records=scored.n_records)

    def waterfalls(folder: Path) -> None:
        chart = charts.waterfall_chart([e for _, e in explanations], [t for t, _ in explanations])
        charts.write_page(folder / "explanations" / "waterfalls.html", "Why these pairs score as they do",
                          [chart], intro="The pairs nearest the threshold and, with a ground truth, the most "
                                         "confident false positives and false negatives; hover a bar for the values "
                                         "compared, the level and the weight.")

    def profile(folder: Path) -> None:
        summaries = summarise(scored.prepared, scored.quality.fields, max_block_size)
        charts.profile_page(folder / "data_profile.html", summaries,
                            f"Profile of the {len(summaries)} fields the run loaded ({scored.n_records:,} records)")

    jobs = [("plots/match_weights.html", weights), ("plots/threshold_sweep.html", sweep)]
    if explanations:
        jobs.append(("explanations/waterfalls.html", waterfalls))
    if local:
        jobs.append(("plots/blocking.html", blocking))
        if scored.quality is not None and max_block_size is not None:
            jobs.append(("data_profile.html", profile))
    return jobs
