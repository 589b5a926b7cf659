"""Sweeps: ``--sweep match_threshold=0.80:0.99:0.01`` (a range) or ``=0.90,0.95,0.98`` (a list),
and ``--sweep KEY=[v1, v2]`` for any other config key (each combination is fitted once).

One parent run (``threshold_sweep_YYYYMMDD_HHMMSS_<4 hex>``) holds the shared parameters, the fitted
model, the summary (best threshold by F1, lowest threshold reaching a target precision, a plot
and a CSV of every threshold) and tags naming the best child; one nested child run per
(combination, threshold) holds its parameters and metrics, so the MLflow UI's compare view lines
them up. Data are loaded once; each combination is compared and fitted once; every threshold
is evaluated from the same scored pairs with one sort (:func:`evaluation.threshold_metrics`).

**Choosing the threshold** (``--select-by``): ``f1_score`` (F1 against the ground truth) or
``labelled_f1`` (F1 on the clerical review labels of ``data.table``, :mod:`evaluation.labelled`).
Without the option: ``f1_score`` when ``data.truth`` is configured, else ``labelled_f1`` when there
are review labels (the only quality figure a warehouse without ground truth has), else the sweep
stops before any run starts. The choice is validated before any run starts, and the parent run says
which criterion chose (param ``sweep.select_by``) and what the other would have chosen. With labels,
every child also logs ``labelled_precision``, ``labelled_recall``, ``labelled_f1`` (where defined);
without a ground truth the children have no ``precision``/``recall``/``f1_score`` and the plot shows
the labelled figures.

The parent and every child are opened through one :class:`lifecycle.RunLifecycle`: children carry
the host and pid of the process (and their parent's id), and on a failure, Ctrl-C or SIGTERM the
parent and every child still open end FAILED or KILLED, never RUNNING.
"""
from __future__ import annotations

import itertools
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from golden_record.tracking import diagnostics
from golden_record.tracking import plots
from golden_record.tracking import run_charts
from golden_record.tracking import store as tracking
from golden_record.tracking import ui as tracking_ui
from golden_record.io import warehouse
from golden_record.errors import DataError
from golden_record.evaluation import labelled
from golden_record.config import ConfigError, ModelConfig, Settings, apply_overrides, _format_validation_error
from golden_record.evaluation.calibration import estimates_at
from golden_record.evaluation.pairs import threshold_metrics
from golden_record.tracking.lifecycle import SWEEP_RUN_PREFIX, RunLifecycle, default_run_name, signals_deferred
from golden_record.progress import Progress
from golden_record.linkage.pipeline import fit_and_score, load
from golden_record.tracking.model_logging import log_model

log = logging.getLogger(__name__)

THRESHOLD_KEY = "model.params.match_threshold"
ALIASES = {"match_threshold": THRESHOLD_KEY, "threshold": THRESHOLD_KEY}
CHILD_METRICS = ("precision", "recall", "f1_score", "match_pairs", "true_positives", "false_positives",
                 "false_negatives")
ESTIMATED_METRICS = ("estimated_precision", "estimated_recall", "estimated_f1")
LABELLED_METRICS = tuple(labelled.LABELLED_TABLE_COLUMNS[1:])
#: --select-by: the column of the sweep table that chooses the threshold, and its precision column
SELECT_BY = {"f1_score": "precision", "labelled_f1": "labelled_precision"}


@dataclass
class SweepSpec:
    #: empty: each combination's own threshold (the config's, or the one match_threshold: auto chose)
    thresholds: list[float]
    grid: dict[str, list]          # other config keys -> values (each combination is one fit)

    def combinations(self) -> list[dict]:
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))] or [{}]


def parse_values(key: str, spec: str) -> list:
    spec = spec.strip()
    if key == THRESHOLD_KEY and spec.count(":") == 2:
        try:
            start, stop, step = (float(x) for x in spec.split(":"))
        except ValueError:
            raise ConfigError(f"--sweep {key}={spec}: a range is START:STOP:STEP, e.g. 0.80:0.99:0.01") from None
        if step <= 0 or stop < start:
            raise ConfigError(f"--sweep {key}={spec}: need STEP > 0 and STOP >= START")
        n = int(np.floor((stop - start) / step + 1e-9)) + 1
        values = [round(start + i * step, 10) for i in range(n)]
    else:
        try:
            parsed = yaml.safe_load(spec)
        except yaml.YAMLError:
            parsed = spec
        if isinstance(parsed, list):
            values = parsed
        elif isinstance(parsed, str) and "," in parsed:
            values = [yaml.safe_load(v) for v in parsed.split(",")]
        else:
            values = [parsed]
    if not values:
        raise ConfigError(f"--sweep {key}={spec}: no values")
    if key == THRESHOLD_KEY:
        bad = [v for v in values if not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0]
        if bad:
            raise ConfigError(f"--sweep {key}: thresholds must be match probabilities strictly between 0 and 1, "
                              f"got {bad}")
        values = sorted({float(v) for v in values})
    return values


def parse_sweeps(texts: list[str], base_data: dict, base_config: ModelConfig) -> SweepSpec:
    """Parse and validate every combination against the config schema before any run starts."""
    thresholds: list[float] = []
    grid: dict[str, list] = {}
    for text in texts:
        if "=" not in text:
            raise ConfigError(f"--sweep {text!r}: expected KEY=VALUES, e.g. match_threshold=0.90,0.95,0.98")
        key, spec = text.split("=", 1)
        key = ALIASES.get(key.strip(), key.strip())
        values = parse_values(key, spec)
        if key == THRESHOLD_KEY:
            thresholds = values
        else:
            grid[key] = values
    spec = SweepSpec(thresholds or ([] if base_config.threshold_pending else [base_config.threshold]), grid)
    for combo in spec.combinations():
        validate_combo(base_data, combo)
    return spec


def _override_text(key: str, value) -> str:
    return f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"


def validate_combo(base_data: dict, combo: dict) -> ModelConfig:
    from pydantic import ValidationError

    data = apply_overrides(base_data, [_override_text(k, v) for k, v in combo.items()])
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError("--sweep: " + _format_validation_error("model_config.yaml", err)) from None


def choose_selection(select_by: str | None, has_truth: bool, verdicts, data_table: str) -> str:
    """The criterion that chooses the sweep's threshold (see the module doc), validated before any
    run starts: a :class:`ConfigError` names the option and the fix."""
    matches = 0 if verdicts is None else len(verdicts.matches)
    if select_by is None:
        if has_truth:
            return "f1_score"
        if matches:
            return "labelled_f1"
        raise ConfigError(
            "a sweep chooses its threshold by F1 against the ground truth (data.truth) or by F1 on the clerical "
            f"review labels (--select-by labelled_f1), and table {data_table} has neither (data.truth is not "
            "configured; " + _labels_state(verdicts) + "): configure data.truth, or label pairs on the review "
            "page (at least one pair labelled match)")
    if select_by not in SELECT_BY:
        raise ConfigError(f"--select-by {select_by}: choose one of {', '.join(SELECT_BY)}")
    if select_by == "f1_score" and not has_truth:
        raise ConfigError("--select-by f1_score needs the ground truth, but data.truth is not configured: "
                          "configure data.truth, or choose by the review labels with --select-by labelled_f1")
    if select_by == "labelled_f1" and not matches:
        raise ConfigError(f"--select-by labelled_f1: {_labels_state(verdicts)} for table {data_table}, so labelled "
                          "F1 is 0 or undefined at every threshold: label pairs on the review page (at least one "
                          "pair labelled match), or choose by the ground truth with --select-by f1_score")
    return select_by


def _labels_state(verdicts) -> str:
    if verdicts is None:
        return "no clerical review labels in pair_labels"
    return f"no pair labelled match in pair_labels ({verdicts.summary()})"


def _best(table: pd.DataFrame, target_precision: float, select_by: str = "f1_score"
          ) -> tuple[pd.Series, pd.Series | None]:
    def column(name: str) -> np.ndarray:      # a metric no child logged is undefined everywhere
        return table[name].to_numpy(dtype=float) if name in table.columns else np.full(len(table), np.nan)

    ranked = table[np.isfinite(column(select_by))]
    if ranked.empty:
        raise DataError(f"{select_by} is undefined at every threshold swept, so none can be chosen",
                        "label more pairs (both matches and non-matches) or sweep other thresholds")
    best = ranked.sort_values([select_by, "threshold"], ascending=[False, True]).iloc[0]
    precision = column(SELECT_BY[select_by])
    reaching = table[np.nan_to_num(precision, nan=-1.0) >= target_precision].sort_values("threshold")
    return best, (reaching.iloc[0] if len(reaching) else None)


def run_sweep(base_data: dict, base_config: ModelConfig, spec: SweepSpec, settings: Settings,
              experiment: str | None = None, run_name: str | None = None, target_precision: float = 0.99,
              quiet: bool = False, with_model: bool = True, select_by: str | None = None) -> dict:
    import mlflow
    from mlflow.entities import Metric, Param, RunTag


    uri = tracking.configure(settings)
    experiment = experiment or settings.tracking.experiment_name
    experiment_id = tracking.ensure_experiment(experiment, uri)
    combos = spec.combinations()
    configs = [validate_combo(base_data, c) for c in combos]
    has_truth = all(cfg.data.truth is not None for cfg in configs)
    for cfg in configs:
        target = warehouse.preflight(cfg, settings, quiet)
    with warehouse.connect(target, settings.database.connect_timeout_seconds) as conn:
        verdicts = labelled.read_verdicts(conn, base_config.data.table)     # clerical review labels, or None
    select_by = choose_selection(select_by, has_truth, verdicts, base_config.data.table)
    run_name = (run_name or "").strip() or default_run_name(SWEEP_RUN_PREFIX)
    progress = Progress(quiet=quiet, logger=log)
    started = time.perf_counter()
    lifecycle = RunLifecycle(uri, experiment_id, experiment, progress, context=lambda: {
        "stage_timings_seconds": progress.timings, "counts": progress.counts, "experiment": experiment,
        "config": base_config.model_dump(mode="json")})
    # every run opened below (the parent, each child) is closed whatever happens: see lifecycle.py
    with lifecycle:
        parent = lifecycle.start(run_name)
        parent_id = parent.info.run_id
        per = f"{len(spec.thresholds)} threshold(s)" if spec.thresholds else "the threshold auto chooses for each"
        progress.say(f"MLflow sweep run {parent_id} ({run_name}): {len(combos)} combination(s) x {per}")
        mlflow.set_tags({"model_type": base_config.model.type, "data.table": base_config.data.table,
                         "run_kind": "sweep", "code_version": tracking.code_version(), **tracking.process_tags(),
                         "sweep.keys": ", ".join(["match_threshold", *spec.grid])})
        # what the sweep varies, as params of its own beside the config's (at most tracking.MAX_PARAMS in all)
        own = {"sweep.thresholds": ",".join(f"{t:g}" for t in spec.thresholds) or "auto",
               **{f"sweep.{k}": str(v) for k, v in spec.grid.items()},
               "sweep.target_precision": str(target_precision), "sweep.select_by": select_by}
        budget = tracking.MAX_PARAMS - len(own)
        shared = {k: v for k, v in tracking.declared_params(base_config, budget).items()
                  if k != THRESHOLD_KEY and not any(k == g or k.startswith(g + ".") for g in spec.grid)}
        mlflow.log_params({**shared, **{k: tracking.param_text(v) for k, v in own.items()}})
        with progress.stage("load", announce=False):   # connecting is part of loading
            target = warehouse.resolve_target(settings, announce=False)
            conn = warehouse.connect(target, settings.database.connect_timeout_seconds)
        with conn:
            records, entity = load(conn, configs[0], progress)
        if has_truth and entity is None:
            raise diagnostics.GoldenRecordError("a sweep needs the ground truth to compare thresholds",
                                                "seed the warehouse with make seed-data")
        located = None if verdicts is None else labelled.locate(records["record_id"].to_numpy(), verdicts)
        if located is not None:
            progress.say(f"  review labels: {len(located):,} labelled pairs ({located.matches:,} match, "
                         f"{located.non_matches:,} not a match); left out: {located.left_out()}")
            if select_by == "labelled_f1" and located.matches == 0:
                raise DataError(f"--select-by labelled_f1: no pair labelled match has both records in table "
                                f"{base_config.data.table} (left out: {located.left_out()})",
                                "label pairs of the records in this table, or choose with --select-by f1_score")
        progress.say(f"  the threshold is chosen by {select_by}"
                     + (" (F1 on the clerical review labels)" if select_by == "labelled_f1" else
                        " (F1 against the ground truth)"))
        digest = tracking.frame_digest(records)
        tracking.log_dataset(records, target.url, base_config.data.table, digest)
        mlflow.set_tags({"data.rows": str(len(records)), "data.digest": digest, "data.database": target.safe_url})
        tables, children, scored_by_combo = [], [], []
        for ci, (combo, cfg) in enumerate(zip(combos, configs)):
            if combo:
                progress.say(f"combination {ci + 1}/{len(combos)}: {combo}")
            scored = fit_and_score(records, entity, cfg, progress)
            scored_by_combo.append(scored)
            thresholds = spec.thresholds or [cfg.threshold]
            with progress.stage("evaluate"):
                # estimated precision/recall/F1 from the probabilities (NaN where undefined: not logged)
                estimates = estimates_at(scored.probabilities, thresholds, missed=scored.outside)
                estimated = estimates[list(ESTIMATED_METRICS)]
                if entity is not None:
                    table = threshold_metrics(scored.probabilities, scored.labels, thresholds,
                                              scored.total_true_pairs)
                    completeness = (scored.labels.sum() / scored.total_true_pairs) if scored.total_true_pairs \
                        else 1.0
                else:
                    table = estimates[["threshold", "predicted_matches"]].rename(
                        columns={"predicted_matches": "match_pairs"})
                    completeness = None
                if located is not None:      # F1 etc. on the labelled sample (NaN where undefined)
                    prob, _ = labelled.located_probabilities(located, scored.pairs.left, scored.pairs.right,
                                                             scored.probabilities, scored.n_records)
                    lab = labelled.labelled_at(prob, located.match, thresholds)
                    for column in LABELLED_METRICS:
                        table[column] = lab[column].to_numpy()
            for key, value in combo.items():
                table[key] = str(value)
            table["combination"] = ci
            # one nested child run per threshold: params + metrics in one batch each
            now = int(time.time() * 1000)
            for row, est in zip(table.itertuples(index=False), estimated.itertuples(index=False)):
                name = f"{run_name}_t{row.threshold:.3f}" + (f"_c{ci}" if combo else "")
                params = {**tracking.run_params(cfg), THRESHOLD_KEY: f"{row.threshold:g}"}
                metrics = {m: float(getattr(row, m)) for m in (*CHILD_METRICS, *LABELLED_METRICS)
                           if m in table.columns and np.isfinite(getattr(row, m))}
                metrics["training_pairs"] = float(len(scored.pairs))
                if completeness is not None:
                    metrics["pairs_completeness"] = float(completeness)
                if located is not None:
                    metrics["labelled_pairs"] = float(len(located))
                metrics.update({k: float(v) for k, v in est._asdict().items() if np.isfinite(v)})
                with signals_deferred():     # a child is written whole; Ctrl-C / SIGTERM act between children
                    child = lifecycle.child(name, tags={"run_kind": "sweep_child", "model_type": cfg.model.type,
                                                        "data.table": cfg.data.table, "data.digest": digest})
                    lifecycle.client.log_batch(child.info.run_id,
                                               metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                                               params=[Param(k, v) for k, v in params.items()],
                                               tags=[RunTag("sweep.combination", str(ci)), RunTag(
                                                   tracking_ui.NOTE_TAG,
                                                   tracking_ui.child_description(metrics, row.threshold, combo))])
                    lifecycle.end(child.info.run_id, "FINISHED")
                children.append({"run_id": child.info.run_id, "run_name": name, "combination": ci,
                                 "threshold": float(row.threshold), **metrics,
                                 **{k: str(v) for k, v in combo.items()}})
            tables.append(table)
        table = pd.DataFrame(children)
        best, reaching = _best(table, target_precision, select_by)
        other = next((c for c in SELECT_BY if c != select_by and c in table.columns
                      and np.isfinite(table[c].to_numpy(dtype=float)).any()), None)
        alternative = _best(table, target_precision, other)[0] if other else None
        best_combo = int(best["combination"])
        best_scored = scored_by_combo[best_combo]
        # the parent's model classifies at the best threshold found
        best_cfg = validate_combo(base_data, {**combos[best_combo], THRESHOLD_KEY: float(best["threshold"])})
        best_cfg.fill_in_from(configs[best_combo])      # what the best combination derived from the data
        tracking.log_resolved_config(best_cfg, [*shared, THRESHOLD_KEY, *spec.grid], budget)
        summary = {"best_threshold": float(best["threshold"]),
                   **{f"best_{c}": float(best[c]) for c in ("f1_score", "precision", "recall", *labelled.METRICS)
                      if c in best.index and np.isfinite(float(best[c]))},
                   "thresholds_evaluated": float(len(table)), "combinations": float(len(combos))}
        if alternative is not None:
            summary[f"best_threshold_by_{other}"] = float(alternative["threshold"])
        if reaching is not None:
            recall = "recall" if select_by == "f1_score" else "labelled_recall"
            summary["lowest_threshold_at_target_precision"] = float(reaching["threshold"])
            if np.isfinite(float(reaching[recall])):
                summary["recall_at_target_precision"] = float(reaching[recall])
        summary.update({f"seconds_{k}": v for k, v in progress.timings.items()})
        mlflow.log_metrics(summary)
        mlflow.set_tags({"best_child_run_id": best["run_id"], "best_child_run_name": best["run_name"],
                         "target_precision_child_run_id": reaching["run_id"] if reaching is not None else "none"})
        with progress.stage("log"):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                table.to_csv(folder / "sweep_results.csv", index=False)
                for ci, t in enumerate(tables):
                    fig = _sweep_figure(t, float(best["threshold"]) if ci == int(best["combination"]) else None,
                                        0 if located is None else len(located))
                    if len(tables) > 1:
                        fig.axes[0].set_title(f"{fig.axes[0].get_title()} — combination {ci}")
                    name = f"threshold_sweep{'' if len(tables) == 1 else f'_{ci}'}"
                    title = fig.axes[0].get_title()
                    plots.save_figure(fig, folder / "plots" / f"{name}.png")
                    run_charts.sweep_page(folder / "plots" / f"{name}.html", t, float(best["threshold"])
                                          if ci == int(best["combination"]) else None, title)
                mlflow.log_artifacts(str(folder))
                if with_model:
                    log_model(best_scored, best_cfg, folder)
        total = time.perf_counter() - started
        mlflow.log_metric("seconds_total", total)
        tracking_ui.describe_sweep_run(parent_id, summary, best["run_name"], target_precision, len(table))
        lifecycle.finish()
        return {"run_id": parent_id, "experiment_id": experiment_id, "table": table, "summary": summary,
                "best": best, "reaching": reaching, "seconds": total, "select_by": select_by,
                "alternative": alternative, "other": other}


def _sweep_figure(table: pd.DataFrame, best_threshold: float | None, labelled_pairs: int):
    """The sweep plot: against the ground truth when there is one, else the labelled figures
    (titled and labelled as such)."""
    if "f1_score" in table.columns:
        return plots.threshold_sweep_plot(table, best_threshold)
    renamed = table.rename(columns={"labelled_precision": "precision", "labelled_recall": "recall",
                                    "labelled_f1": "f1_score"})
    fig = plots.threshold_sweep_plot(renamed, best_threshold)
    fig.axes[0].set_title(f"Labelled precision, recall and F1 by threshold ({labelled_pairs:,} labelled pairs)")
    for legend in fig.legends:
        for text in legend.get_texts():
            text.set_text(text.get_text().replace("recall (all true pairs)", "recall")
                          .replace("(F1 =", "(labelled F1 =") if text.get_text().startswith("chosen")
                          else "labelled " + text.get_text().replace(" (all true pairs)", ""))
    return fig


def print_sweep_summary(result: dict, target_precision: float) -> None:

    s, table = result["summary"], result["table"]
    select_by = result.get("select_by", "f1_score")
    shown = ("precision", "recall", "f1_score", *labelled.METRICS, "match_pairs", "estimated_f1")
    hidden = {"run_id", "run_name", "true_positives", "false_positives", "false_negatives", "pairs_completeness",
              "training_pairs", "combination", "estimated_precision", "estimated_recall", "labelled_pairs",
              *LABELLED_METRICS}
    cols = ["threshold", *[c for c in shown if c in table.columns]] + \
        [c for c in table.columns if c not in hidden and c not in shown and c != "threshold"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    def figures(row) -> str:
        parts = [f"{name} {float(row[c]):.4f}" for c, name in
                 (("f1_score", "F1"), ("precision", "precision"), ("recall", "recall"),
                  ("labelled_f1", "labelled F1"), ("labelled_precision", "labelled precision"),
                  ("labelled_recall", "labelled recall")) if c in row.index and np.isfinite(float(row[c]))]
        return ", ".join(parts)

    how = "F1 against the ground truth" if select_by == "f1_score" else "F1 on the clerical review labels"
    print(f"threshold chosen by {select_by} ({how}): {s['best_threshold']:g} ({figures(result['best'])}); "
          f"child run {result['best']['run_name']}")
    if result.get("alternative") is not None:
        alt = result["alternative"]
        print(f"by {result['other']} it would be {float(alt['threshold']):g} ({figures(alt)}); "
              f"choose with --select-by {result['other']}")
    measure = "precision" if select_by == "f1_score" else "labelled precision"
    if "lowest_threshold_at_target_precision" in s:
        print(f"lowest threshold with {measure} >= {target_precision:g}: "
              f"{s['lowest_threshold_at_target_precision']:g}"
              + (f" (recall {s['recall_at_target_precision']:.4f})" if "recall_at_target_precision" in s else ""))
    else:
        print(f"no threshold reaches {measure} {target_precision:g}")
    print(f"sweep run {result['run_id']} finished in {result['seconds']:.1f} s")
    print(tracking.ui_hint(result["experiment_id"], result["run_id"]))
    print("compare the children: on the runs page expand the sweep run, tick its child runs, press Compare")
