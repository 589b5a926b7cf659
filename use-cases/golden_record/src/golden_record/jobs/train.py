"""``golden-record train``: train, evaluate and log a Fellegi–Sunter deduplication model to MLflow.

Order of events: validate the config (no run is created for an invalid one), check the tracking
store answers (before any data is loaded), start the run, then load -> prepare -> candidates ->
compare -> fit -> evaluate -> log. Any failure after the run starts ends it FAILED with the stage,
the error and a hint (see :mod:`golden_record.tracking.diagnostics`); Ctrl-C and SIGTERM end it KILLED.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from golden_record.linkage.decision import is_match
from golden_record.linkage.fitting import model_type_of
from golden_record.tracking import plots
from golden_record.tracking import run_charts
from golden_record.tracking import ui as tracking_ui
from golden_record.io import redaction
from golden_record.tracking import store as tracking
from golden_record.io import warehouse
from golden_record.evaluation import review
from golden_record.evaluation.bootstrap import bootstrap_intervals
from golden_record.evaluation import labelled
from golden_record.evaluation.calibration import (AUTO_THRESHOLDS, Calibration, Estimates, calibrate, estimate,
                                                  model_choice)
from golden_record.evaluation.pairs import threshold_metrics
from golden_record import console
from golden_record.progress import Progress
from golden_record.config import ConfigError, ModelConfig, Settings, load_model_config, load_settings
from golden_record import extras
from golden_record.errors import GoldenRecordError
from golden_record.evaluation.pairs import Evaluation
from golden_record.tracking.lifecycle import TRAINING_RUN_PREFIX, RunLifecycle, default_run_name, quiet_store_logs
from golden_record.linkage.pipeline import PairFigures, Scored, fit_and_score, load
from golden_record.tracking.model_logging import log_model
from golden_record.tracking.waterfall import waterfall_plot
from golden_record.linkage.explain import comparison_fields, explain_row, prior_weight, weights_note
from golden_record.tracking import registry
from golden_record.jobs import sweep
from golden_record.golden import build as golden

log = logging.getLogger(__name__)


def build_parser() -> console.ArgumentParser:
    p = console.ArgumentParser("train", description="Train and evaluate the golden-record deduplication model "
                               "and log it to MLflow: load the table, clean, block, compare, fit, evaluate, and "
                               "log params, metrics, plots and the model as one run.")
    p.add_argument("--config", help="model config YAML (default use-cases/golden_record/config/model_config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.params.match_threshold=0.9 (repeatable)")
    p.add_argument("--experiment", help="MLflow experiment (default from config/settings.yaml)")
    p.add_argument("--run-name", help="run name (default deduplication_training_YYYYMMDD_HHMMSS_<4 hex>; "
                   "a sweep: threshold_sweep_YYYYMMDD_HHMMSS_<4 hex>)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=VALUES",
                   help="sweep a setting: match_threshold=0.80:0.99:0.01 (range), match_threshold=0.9,0.95 "
                        "(list), or any config key with a YAML list, e.g. "
                        "'model.params.blocking_fields=[[email, phonetic(first_name,last_name)], [email]]' "
                        "(repeatable)")
    p.add_argument("--target-precision", type=float, default=0.99,
                   help="a sweep also reports the lowest threshold reaching this precision (default 0.99)")
    p.add_argument("--select-by", choices=sorted(sweep.SELECT_BY), help="how a sweep chooses its threshold: "
                   "f1_score (against the ground truth; the default when data.truth is configured) or labelled_f1 "
                   "(F1 on the clerical review labels; the default without ground truth)")
    p.add_argument("--register", action="store_true",
                   help="register the model (this run's, the sweep's best, or --run-id's) under its table's name "
                        "(golden_record__<schema>_<table>, or tracking.model_name) and move the alias 'champion' "
                        "to it when its F1 beats that table's champion's (without --register a run is registered "
                        "only when its table has no champion yet: the first model becomes the champion)")
    p.add_argument("--run-id", help="with --register: register this run's model without training")
    p.add_argument("--write-golden", action="store_true",
                   help="after training, cluster the matches into golden records and write them to PostgreSQL "
                        "(golden.table and golden.map_table of the config), with cluster metrics on the same run")
    return p


@dataclass
class RunOutcome:
    run_id: str
    experiment_id: str
    metrics: dict[str, float]
    scored: Scored | None = None
    evaluation: Evaluation | None = None


# --------------------------------------------------------------------------- artifacts
def training_samples(scored: Scored, threshold: float, n: int, seed: int = 0) -> pd.DataFrame:
    """A sample of scored pairs: half classified matches, half non-matches (as available)."""
    probs = scored.probabilities
    rng = np.random.default_rng(seed)
    match = is_match(probs, threshold)
    pool = np.arange(len(probs)) if scored.sampled is None else scored.sampled   # a view: its random sample
    matches, non = pool[match[pool]], pool[~match[pool]]
    k_m = min(len(matches), n // 2)
    k_n = min(len(non), n - k_m)
    idx = np.sort(np.concatenate([rng.choice(matches, k_m, replace=False), rng.choice(non, k_n, replace=False)]))
    first = [c for c in scored.records.columns if c != "record_id"][:3]    # the first fields, to recognise the pair
    out = review.side_by_side(scored, scored.pairs.left[idx], scored.pairs.right[idx], idx, fields=first)
    out = out.drop(columns=["candidate"])
    out["predicted_match"] = match[idx]
    out["true_match"] = scored.labels[idx] if scored.labels is not None else pd.NA
    return out


def summary_text(metrics: dict, evaluation: Evaluation | None, scored: Scored, config: ModelConfig,
                 dataset: dict, run_name: str) -> str:
    lines = [f"Golden-record deduplication: {run_name}", "=" * 60,
             f"Data: {dataset['table']} ({dataset['records']:,} records) at {dataset['database']}",
             f"Model: {model_type_of(scored.model)}, threshold {config.threshold} (match probability)", ""]
    if evaluation is None:
        lines.append("Evaluation skipped: the warehouse has no ground truth.")
    else:
        m, c = evaluation.metrics, evaluation.confusion
        lines += [f"Precision  {m['precision']:.4f}", f"Recall     {m['recall']:.4f}  (over all "
                  f"{m['true_match_pairs']:,} true duplicate pairs, also those blocking missed)",
                  f"F1         {m['f1_score']:.4f}", "",
                  f"Candidate pairs {m['training_pairs']:,}; classified matches {m['match_pairs']:,}",
                  f"Pairs completeness {m['pairs_completeness']:.4f}; reduction ratio {m['reduction_ratio']:.6f}",
                  "", "Confusion matrix (pairs):",
                  f"                 predicted match   predicted non-match",
                  f"  true match     {c['tp']:>15,}   {c['fn']:>19,}",
                  f"  true non-match {c['fp']:>15,}   {c['tn']:>19,}"]
    rep = scored.model.report
    lines += ["", f"EM: {rep.iterations} iterations, converged {rep.converged}, match share {rep.match_share:.5f}, "
              f"{rep.related_classes} related class(es) ({rep.criterion}), "
              f"match classes {scored.model.match_classes}",
              "", "m / u per comparison level (weight = log2 m/u):"]
    table = scored.model.m_u_table()
    for name, group in table.groupby("comparison", sort=False):
        lines.append(f"  {name}")
        for row in group.itertuples():
            lines.append(f"    {row.level:<26} m={row.m:.4f}  u={row.u:.6f}  weight={row.weight:+.2f}")
    lines += ["", "Seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()
                                                  if k.startswith("seconds_"))]
    return "\n".join(lines) + "\n"


def write_artifacts(folder: Path, scored: Scored, evaluation: Evaluation | None, config: ModelConfig,
                    metrics: dict, dataset: dict, run_name: str,
                    patterns: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """``patterns``: the distinct comparison patterns and their pair counts when the pairs live
    elsewhere (the Spark engine); else they are counted on ``scored``."""
    threshold = config.threshold
    training_samples(scored, threshold, config.tracking.sample_pairs).to_csv(folder / "training_samples.csv",
                                                                             index=False)
    m_u = scored.model.m_u_table()
    m_u.to_csv(folder / "m_u_parameters.csv", index=False)
    # the pairs a person should look at, both records side by side (evaluation/review.py)
    (folder / "review").mkdir(exist_ok=True)
    for name, frame in review.review_files(scored, threshold).items():
        frame.to_csv(folder / "review" / f"{name}.csv", index=False)
    pattern_frame = review.pattern_counts(scored, patterns)
    if pattern_frame is not None:     # what the review page refits with new labels
        pattern_frame.to_csv(folder / "review" / "patterns.csv", index=False)
    # the latent classes EM fitted, which of them hold matches, and the class-count criterion per k
    (folder / "em_classes.json").write_text(json.dumps(scored.model.structure(), indent=2, default=_json_default))
    report = {"run_name": run_name, "threshold": threshold, "metrics": metrics, "dataset": dataset,
              "model": {"type": model_type_of(scored.model), "match_share": scored.model.match_share,
                        "em_iterations": scored.model.report.iterations,
                        "em_converged": scored.model.report.converged,
                        "structure": scored.model.structure(),
                        "m_u": m_u.to_dict(orient="records")},
              "blocking": [vars(p) for p in scored.pairs.passes],
              "evaluation": evaluation.to_dict() if evaluation is not None else {"skipped": "no ground truth"}}
    if evaluation is not None:
        report["confusion_matrix"] = evaluation.confusion
    # both embed the database: scrubbed like every string that leaves the process
    (folder / "evaluation_report.json").write_text(redaction.scrub(json.dumps(report, indent=2,
                                                                              default=_json_default)))
    (folder / "evaluation_summary.txt").write_text(redaction.scrub(summary_text(metrics, evaluation, scored, config,
                                                                                dataset, run_name)))
    if scored.quality is not None:
        (folder / "data_quality.json").write_text(json.dumps(scored.quality.to_dict(), indent=2,
                                                             default=_json_default))


def render_plots(folder: Path, scored: Scored, evaluation: Evaluation | None, threshold: float,
                 calibration: Calibration | None = None, part: int | None = None,
                 explain_fields: dict[str, list[str]] | None = None, figures: PairFigures | None = None,
                 max_block_size: int | None = None) -> None:
    """Every plot of the run into ``folder/plots`` (and the waterfalls into
    ``folder/explanations``), the PNGs and the interactive HTML charts (:mod:`tracking.run_charts`,
    drawn by part 1); ``part`` 0 or 1 renders one of two halves of about equal cost (two
    processes render them side by side)."""
    pdir = folder / "plots"
    pdir.mkdir(exist_ok=True)
    model = scored.model
    figures = figures or scored.figures()     # every pair (or, from Spark, counted distinct rows)
    classes, match_classes = len(model.class_shares or [0, 1]), len(model.match_classes)
    # the model first: match weight per level with the prior (levels at the floor marked), then m and u
    jobs = [("match_weights.png", lambda: plots.match_weights_plot(
                model.m_u_table(), float(np.log2(model.match_share / (1 - model.match_share))),
                match_classes, classes - match_classes)),
            ("m_u_parameters.png", lambda: plots.m_u_plot(model.m_u_table()))]
    if evaluation is not None:
        m = evaluation.metrics
        jobs += [
            ("match_weight_histogram.png", lambda: plots.weight_histogram_plot(
                figures.weights, figures.labels, scored.model.threshold_weight(threshold), counts=figures.counts)),
            ("confusion_matrix.png", lambda: plots.confusion_matrix_plot(evaluation.confusion, threshold)),
            ("precision_recall_curve.png", lambda: plots.precision_recall_plot(
                evaluation.pr_curve, threshold, {"precision": m["precision"], "recall": m["recall"]})),
            ("roc_curve.png", lambda: plots.roc_plot(evaluation.roc_curve, m["roc_auc"]))]
    if calibration is not None:
        jobs.append(("reliability.png", lambda: plots.reliability_plot(
            calibration.table, figures.probabilities, calibration.ece, calibration.brier, threshold,
            counts=figures.counts)))
    explained = explanations(scored, threshold, explain_fields)
    for name, title, expl in explained:
        jobs.append((name, lambda expl=expl, title=title: waterfall_plot(expl, title=title)))
    for name, draw in (jobs if part is None else jobs[part::2]):
        plots.save_figure(draw(), folder / name if "/" in name else pdir / name)
    if part in (None, 1):
        for _, write in run_charts.chart_jobs(scored, evaluation, threshold, figures,
                                              [(title, expl) for _, title, expl in explained], max_block_size):
            write(folder)


def explanations(scored: Scored, threshold: float, fields_of: dict[str, list[str]] | None,
                 per_kind: int = 2) -> list[tuple[str, str, object]]:
    """(``explanations/<kind>_<left>_<right>.png``, title, explanation) of a handful of pairs, whose
    waterfalls the run draws: those nearest the threshold and (with a ground truth) the most
    confident false positives and false negatives (:func:`golden_record.evaluation.review.explanation_pairs`)."""
    if fields_of is None:
        return []
    prior, note = prior_weight(scored.model), weights_note(scored.model)
    out = []
    for kind, rows in review.explanation_pairs(scored, threshold, per_kind).items():
        for row in rows.to_dict(orient="records"):
            expl = explain_row(row, fields_of, prior, threshold, note=note)
            out.append((f"explanations/{kind}_{row['left_id']}_{row['right_id']}.png",
                        f"{kind.replace('_', ' ')}: pair {expl.left_id} – {expl.right_id} scores "
                        f"{expl.probability:.4f} at threshold {expl.threshold:g}", expl))
    return out


class PlotProcess:
    """The plots being rendered in forked processes: call it to wait (raises if rendering failed);
    as a context manager it also stops the processes when the block is left early (a failure,
    Ctrl-C, SIGTERM), before the folder they write to is removed."""

    def __init__(self, procs=(), readers=()):
        self.procs, self.readers = list(procs), list(readers)

    def __call__(self) -> None:
        failures = []
        for proc, reader in zip(self.procs, self.readers):
            proc.join()
            try:
                reason = reader.recv() if reader.poll() else None
            except EOFError:
                reason = None
            reader.close()
            if proc.exitcode != 0:
                failures.append(reason or f"exit code {proc.exitcode}")
        self.procs, self.readers = [], []
        if failures:
            raise RuntimeError(f"rendering the plots failed: {failures[0]}")

    def stop(self) -> None:
        """Terminate and reap the processes still there; quiet (see :func:`_render_child`)."""
        for proc, reader in zip(self.procs, self.readers):
            if proc.is_alive():
                proc.terminate()
            proc.join(10)
            reader.close()
        self.procs, self.readers = [], []

    def __enter__(self) -> "PlotProcess":
        return self

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False


def _render_child(writer, folder: Path, scored: Scored, evaluation: Evaluation | None, threshold: float,
                  calibration: Calibration | None = None, part: int | None = None,
                  explain_fields: dict[str, list[str]] | None = None, figures: PairFigures | None = None,
                  max_block_size: int | None = None) -> None:
    """The forked process: the parent's SIGTERM handler (raise Terminated) and Ctrl-C would print
    a traceback here, so SIGTERM just ends it and SIGINT is left to the parent, which stops it.
    A rendering error goes to the parent as one line, not as a traceback on the terminal."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # blocked by start_plots
    try:
        render_plots(folder, scored, evaluation, threshold, calibration, part, explain_fields, figures, max_block_size)
    except BaseException as exc:  # noqa: BLE001
        writer.send(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500])
        sys.exit(1)


def start_plots(folder: Path, scored: Scored, evaluation: Evaluation | None, threshold: float,
                calibration: Calibration | None = None,
                explain_fields: dict[str, list[str]] | None = None, figures: PairFigures | None = None,
                max_block_size: int | None = None) -> PlotProcess:
    """Render the plots in two forked processes, in parallel with the model logging.

    Returns a :class:`PlotProcess`: call it to wait (it raises if rendering failed); use it as a
    context manager so that the process is stopped if the caller fails first. Falls back to
    rendering in this process where ``fork`` is unavailable.
    """
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:
        render_plots(folder, scored, evaluation, threshold, calibration, explain_fields=explain_fields,
                     figures=figures, max_block_size=max_block_size)
        return PlotProcess()
    import signal

    procs, readers = [], []
    # a signal arriving while forking must not reach a child before it has reset its handlers
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        for part in (0, 1):       # two halves side by side: the plots take longer than the logging
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_render_child, daemon=True,
                               args=(writer, folder, scored, evaluation, threshold, calibration, part,
                                     explain_fields, figures, max_block_size))
            proc.start()
            writer.close()
            procs.append(proc)
            readers.append(reader)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return PlotProcess(procs, readers)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def spark_stages(config: ModelConfig, target: warehouse.DatabaseTarget, progress: Progress, golden: bool = False):
    """Every stage on Spark (:mod:`golden_record.spark`), its settings as run tags."""
    import mlflow

    from golden_record.spark import session
    from golden_record.spark.pipeline import fit_and_score as spark_fit_and_score

    with progress.stage("session"):
        spark = session.start(config.spark)
        progress.say(f"  Spark {spark.version}, master {spark.sparkContext.master}, "
                     f"{spark.sparkContext.defaultParallelism} cores")
    mlflow.set_tags({"spark.version": spark.version, "spark.master": spark.sparkContext.master,
                     "spark.read_partitions": str(config.spark.read_partitions),
                     "spark.driver_memory": config.spark.driver_memory,
                     **{k: v for k, v in session.sql_settings(config.spark).items()},
                     **{f"spark.conf.{k}": v for k, v in config.spark.conf.items()}})
    return spark_fit_and_score(spark, target, config, progress, golden=golden)


def run_training(config: ModelConfig, settings: Settings, experiment: str | None = None,
                 run_name: str | None = None, quiet: bool = False, extra_tags: dict | None = None,
                 write_golden: bool = False) -> RunOutcome:
    import mlflow

    uri = tracking.configure(settings)                      # fail fast, before any data is loaded
    target = warehouse.preflight(config, settings, quiet)             # a bad column mapping is a config error
    experiment = experiment or settings.tracking.experiment_name
    experiment_id = tracking.ensure_experiment(experiment, uri)
    run_name = (run_name or "").strip() or default_run_name(TRAINING_RUN_PREFIX)
    progress = Progress(quiet=quiet, logger=log)
    started = time.perf_counter()
    runs = RunLifecycle(uri, experiment_id, experiment, progress)   # closes the run whatever happens
    cleanup = contextlib.ExitStack()      # the Spark engine's work directory, whatever happens
    run = runs.start(run_name)
    run_id = run.info.run_id
    progress.say(f"MLflow run {run_id} ({run_name}) in experiment '{experiment}' at {tracking.redact(uri)}")
    try:
        mlflow.set_tags({"run_kind": "training", "model_type": config.model.type, "data.table": config.data.table,
                         "code_version": tracking.code_version(), **tracking.process_tags(), **(extra_tags or {})})
        params = tracking.declared_params(config)      # derived comparisons / blocking: once known
        mlflow.log_params(params)
        mlflow.set_tags({"engine": config.engine})
        with progress.stage("load", announce=False):   # connecting is part of loading
            mlflow.set_tag("data.database", target.safe_url)
            conn = warehouse.connect(target, settings.database.connect_timeout_seconds)
        with conn:
            verdicts = labelled.read_verdicts(conn, config.data.table)   # clerical review labels, or None
            if config.engine == "local":
                records, entity = load(conn, config, progress)
        if config.engine == "spark":     # every stage on Spark; the run sees aggregates and a view
            if verdicts is not None and not verdicts.pairs.empty:
                progress.say(f"  labels: {len(verdicts.pairs):,} labelled pairs are not taught to the model on the "
                             "spark engine (engine: local does): they count in the labelled figures only")
                mlflow.set_tag("labels.fit", "not used: engine spark")
            spark_run = spark_stages(config, target, progress, golden=write_golden)
            cleanup.callback(spark_run.close)
            n_records, n_people, digest = spark_run.n_records, spark_run.n_people, spark_run.digest()
            figures, evaluate_at = spark_run.figures(), spark_run.evaluate
            with progress.stage("view"):
                scored = spark_run.view(config, target, config.threshold, verdicts, config.needed_fields())
                progress.say(f"  {len(scored.pairs):,} pairs and {scored.n_records:,} records brought to the "
                             "driver for the review files, waterfalls, samples and labelled pairs")
            head = scored.records
        else:
            spark_run = None
            n_records, n_people = len(records), (int(len(np.unique(entity))) if entity is not None else None)
            digest, head = tracking.frame_digest(records), records
        mlflow.set_tags({"data.rows": str(n_records), "data.ground_truth": str(n_people is not None)})
        tracking.log_dataset(head, target.url, config.data.table, digest, rows=n_records)
        mlflow.set_tag("data.digest", digest)
        mlflow.log_metrics({"records": n_records, **({"people": n_people} if n_people is not None else {})})
        if spark_run is None:
            scored = fit_and_score(records, entity, config, progress, verdicts)
            figures, evaluate_at = scored.figures(), scored.evaluate
        else:
            mlflow.set_tag("charts.skipped", run_charts.SPARK_NOTE)
        tracking.log_resolved_config(config, params)
        metrics: dict[str, float] = {
            "records": n_records, "training_pairs": figures.pairs,
            **scored.model.fit_metrics(),
            "predicted_match_pairs": figures.matches(config.threshold),
            **(scored.quality.metrics() if scored.quality is not None else {}),
            **(scored.taught.metrics() if getattr(scored, "taught", None) is not None else {}),
        }
        evaluation = boot = calibration = None
        with progress.stage("evaluate"):
            # estimated precision/recall/F1 from the probabilities alone: every run, truth or not
            estimates = estimate(figures.probabilities, config.threshold, counts=figures.counts,
                                 missed=scored.outside)
            metrics.update(estimates.metrics())
            choice = None if spark_run is not None else model_choice(
                scored.model, scored.vectors.levels, scored.vectors.agreed, scored.probabilities, config.threshold,
                scored.outside, estimates)
            if spark_run is not None:
                mlflow.set_tag("estimated.model_choice", "not checked on the Spark engine: whether the estimates "
                               "hang on the class count (the runner-up's view) is checked by the local engine only")
            if choice is not None:
                metrics.update(choice.metrics())
                if choice.unsure:
                    mlflow.set_tag("estimated.model_choice", choice.line(estimates))
                    progress.say("  " + choice.line(estimates))
            if estimates.missed is None:     # said in the fit stage's progress too
                mlflow.set_tag("estimated.missed_pairs", "not estimated (engine spark or a model type without "
                               "latent classes): estimated recall counts the candidate pairs only")
            if estimates.undefined:
                mlflow.set_tag("estimated.undefined", estimates.undefined)
                progress.say(f"  undefined, not logged: {estimates.undefined}")
            if figures.labels is None:
                mlflow.set_tags({"evaluation": "skipped", "calibration": "skipped",
                                 "evaluation.reason": "no ground truth configured (data.truth)"})
                progress.say("  no ground truth configured (data.truth): evaluation and calibration skipped; "
                             + estimate_line(estimates))
            else:
                evaluation = evaluate_at(config.threshold)
                metrics.update({k: v for k, v in evaluation.metrics.items() if v == v})  # drop NaN
                calibration = calibrate(figures.probabilities, figures.labels, counts=figures.counts)
                metrics.update(calibration.metrics())
                best = best_threshold_metrics(figures, scored.total_true_pairs if spark_run is None
                                              else spark_run.total_true_pairs)
                metrics.update(best)
                if best:
                    progress.say(f"  against the truth: F1 {evaluation.metrics['f1_score']:.4f} at the threshold "
                                 f"{config.threshold:g} ({config.threshold_source}); the best threshold "
                                 f"{best['best_threshold']:g} would give {best['best_f1_score']:.4f}")
                progress.say("  " + estimate_line(estimates, evaluation.metrics, calibration))
                metrics["people"] = n_people
                # 95 % intervals for precision, recall, F1 resampling people (not pairs), 1,000 times
                if spark_run is not None:
                    boot = spark_run.bootstrap(config.threshold, iterations=1000, seed=0)
                else:
                    boot = bootstrap_intervals(scored.probabilities, scored.labels, scored.entity[scored.pairs.left],
                                               scored.entity[scored.pairs.right], scored.entity, config.threshold,
                                               iterations=1000, seed=0)
                metrics.update(boot.metrics)
            lab = labelled.evaluate_run(scored, verdicts, config.threshold, config.data.table)
            metrics.update(lab.metrics())
            if getattr(scored, "taught", None) is not None and lab.has_labels:
                mlflow.set_tag("labelled.scored", scored.taught.tag())
            mlflow.set_tags(lab.tags())
            for line in lab.summary_lines():
                progress.say("  " + line)
        metrics["match_pairs"] = metrics.get("match_pairs", metrics["predicted_match_pairs"])
        metrics.update({f"seconds_{k}": v for k, v in progress.timings.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        dataset = {"table": config.data.table, "database": target.safe_url, "records": n_records,
                   "people": n_people, "digest": digest, "engine": config.engine}
        with progress.stage("log"):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "artifacts"
                folder.mkdir()
                with start_plots(folder, scored, evaluation, config.threshold, calibration,
                                 comparison_fields(config), figures,
                                 config.candidates.max_block_size) as join_plots:
                    write_artifacts(folder, scored, evaluation, config, metrics, dataset, run_name,
                                    None if spark_run is None else (spark_run.patterns, spark_run.pattern_counts))
                    lab.write(folder)      # review/labelled_pairs.csv, labelled lines in the summary
                    if boot is not None:
                        boot.samples.to_csv(folder / "bootstrap_results.csv", index=False)
                    if calibration is not None:
                        calibration.table.to_csv(folder / "reliability.csv", index=False)
                    if config.tracking.log_model:
                        log_model(scored, config, Path(tmp))
                    join_plots()
                mlflow.log_artifacts(str(folder))
        if write_golden:

            with progress.stage("golden"):
                if spark_run is not None:     # clusters, survivorship and the write on Spark
                    from golden_record.spark import golden as spark_golden
                    result = spark_golden.build_golden_records(spark_run, spark_run.raw, spark_run.read_at, config,
                                                               target, run_id, say=progress.say)
                else:
                    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
                        result = golden.build_golden_records(scored, config, conn, run_id, say=progress.say)
                golden.log_to_mlflow(result)   # metrics (incl. seconds_golden) + artifacts under golden/
            metrics.update(result.metrics)
            progress.say(f"  {int(result.metrics['golden_records']):,} golden records written to "
                         f"{config.golden.table} and {config.golden.map_table}")
        total = time.perf_counter() - started
        mlflow.log_metrics({"seconds_log": progress.timings["log"], "seconds_total": total})
        metrics["seconds_log"], metrics["seconds_total"] = progress.timings["log"], total
        tracking_ui.describe_training_run(run_id, metrics, config.threshold)   # key figures first on the run page
        runs.finish()
        return RunOutcome(run_id, experiment_id, metrics, scored, evaluation)
    except BaseException as exc:
        if isinstance(exc, GoldenRecordError) and exc.stage is None:
            exc.stage = progress.current
        context = {"stage_timings_seconds": progress.timings, "counts": progress.counts,
                   "database": target.safe_url if target else None, "config": config.model_dump(mode="json"),
                   "run_id": run_id, "experiment": experiment}
        # records the error and ends the run FAILED/KILLED; an MLflow store failure becomes stage "tracking"
        report = runs.fail(exc, getattr(exc, "stage", None) or progress.current, context,
                           metrics={f"seconds_{k}": v for k, v in progress.timings.items()})
        if report is exc:
            raise
        raise report from exc
    finally:
        cleanup.close()


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def best_threshold_metrics(figures, total_true_pairs: int) -> dict[str, float]:
    """With ground truth: the threshold (of those ``match_threshold: auto`` chooses among) whose
    F1 against the truth is highest, and that F1 (``best_threshold``, ``best_f1_score``): how far
    the run's own threshold is from the best it could have had."""
    table = threshold_metrics(figures.probabilities, figures.labels, list(AUTO_THRESHOLDS), total_true_pairs,
                              counts=figures.counts)
    f1 = table["f1_score"].to_numpy(dtype=float)
    if not np.isfinite(f1).any():
        return {}
    best = int(np.nanargmax(f1))
    return {"best_threshold": float(table["threshold"].iloc[best]), "best_f1_score": float(f1[best])}


def estimate_line(est: Estimates, truth: dict | None = None, calibration: Calibration | None = None) -> str:
    """One line: the estimates from the probabilities, and with ground truth the true values beside
    them (recall also among candidate pairs, which is what the estimate can see) and ECE/Brier."""
    line = (f"estimated precision {_fmt(est.precision)}, recall {_fmt(est.recall)}, F1 {_fmt(est.f1)} "
            "(from the match probabilities)")
    if truth is None:
        return line
    completeness = truth["pairs_completeness"]
    among = truth["recall"] / completeness if completeness > 0 else float("nan")
    line = (f"estimated precision {_fmt(est.precision)} (true {_fmt(truth['precision'])}), recall "
            f"{_fmt(est.recall)} (true {_fmt(truth['recall'])}, among candidate pairs {_fmt(among)}), "
            f"F1 {_fmt(est.f1)} (true {_fmt(truth['f1_score'])})")
    if calibration is not None:
        line += f"; calibration ECE {_fmt(calibration.ece, 4)}, Brier {_fmt(calibration.brier, 4)}"
    return line


def print_summary(outcome: RunOutcome) -> None:
    m = outcome.metrics
    if "f1_score" in m:
        print(f"precision {m['precision']:.4f}  recall {m['recall']:.4f}  F1 {m['f1_score']:.4f}  "
              f"(threshold {outcome.evaluation.threshold}; estimated F1 {_fmt(m.get('estimated_f1'), 4)})")
        print(f"candidate pairs {int(m['training_pairs']):,}  matches {int(m['match_pairs']):,}  "
              f"true duplicate pairs {int(m['true_match_pairs']):,}  pairs completeness {m['pairs_completeness']:.4f}")
    else:
        print(f"evaluation skipped (no ground truth; no calibration either); candidate pairs "
              f"{int(m['training_pairs']):,}, matches {int(m['match_pairs']):,}; estimated from the probabilities: "
              f"precision {_fmt(m.get('estimated_precision'))}, recall {_fmt(m.get('estimated_recall'))}, "
              f"F1 {_fmt(m.get('estimated_f1'))}")
    if "golden_records" in m:              # --write-golden: the golden records against the people
        print(golden.quality_line(m) or f"golden records {int(m['golden_records']):,} (no ground truth: no cluster "
                                        "precision / recall)")
    print(labelled.console_line(m))
    print(f"run {outcome.run_id} finished in {m['seconds_total']:.1f} s")
    print(tracking.ui_hint(outcome.experiment_id, outcome.run_id))


def main(argv: list[str] | None = None) -> int:
    """``golden-record train``: reports its own failures (runs marked FAILED / KILLED) in one line."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    console.setup(argv)      # logging from the output options; no password in anything printed
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.run_id and not args.register:
        parser.error("--run-id is used with --register")
    if args.select_by and not args.sweep:
        parser.error("--select-by chooses a sweep's threshold: use it with --sweep")
    if not 0.0 <= args.target_precision <= 1.0:
        parser.error(f"--target-precision must be in [0, 1], got {args.target_precision}")
    try:
        settings = load_settings()
        if args.run_id:
            uri = tracking.configure(settings)
            print(registry.register(args.run_id, settings, uri))
            return 0
        config = load_model_config(args.config, args.overrides)
        if config.engine == "spark":
            extras.require("spark", "engine: spark")
        if config.engine == "spark" and args.sweep:    # never run locally in its place
            raise GoldenRecordError(
                "engine spark does not run --sweep yet: training and golden records run on Spark, sweeps only on "
                "the local engine", "train on Spark without --sweep, or use engine: local for sweeps")
        base_data = config.model_dump(mode="json")
        spec = sweep.parse_sweeps(args.sweep, base_data, config) if args.sweep else None
    except (ConfigError, GoldenRecordError) as exc:
        return console.report(exc, args.verbose)
    quiet_store_logs()   # a store error is reported in one line, not with SQLAlchemy's traceback and SQL
    try:
        with console.signals_handled():     # SIGTERM: the run ends KILLED, like Ctrl-C
            if spec is not None:
                result = sweep.run_sweep(base_data, config, spec, settings, args.experiment, args.run_name,
                                         args.target_precision, quiet=args.quiet, select_by=args.select_by)
                sweep.print_sweep_summary(result, args.target_precision)
                run_id = result["run_id"]
            else:
                outcome = run_training(config, settings, args.experiment, args.run_name, quiet=args.quiet,
                                       write_golden=args.write_golden)
                print_summary(outcome)
                run_id = outcome.run_id
            if args.write_golden and spec is not None:
                log.warning(f"note: --write-golden is ignored with --sweep; run golden-record golden --run-id {run_id}")
            if args.register:
                print(registry.register(run_id, settings, tracking.resolve_uri(settings), config))
            else:                          # the first model of a table becomes its champion
                try:
                    print(registry.register_first(run_id, settings, tracking.resolve_uri(settings), config))
                except Exception as exc:  # noqa: BLE001 - the run is logged: a registry failure is a warning
                    why = exc.one_line() if isinstance(exc, GoldenRecordError) else (str(exc).splitlines() or [""])[0]
                    log.warning(redaction.scrub(f"warning: run {run_id} finished but was not registered ({why}): "
                                                f"register it with golden-record train --register --run-id {run_id}"))
    except BaseException as exc:  # noqa: BLE001 - one line and an exit code (130 Ctrl-C, 143 SIGTERM)
        if isinstance(exc, SystemExit):
            raise
        return console.report(exc, args.verbose)
    return 0


def cli() -> None:
    sys.exit(console.run_main(main))
