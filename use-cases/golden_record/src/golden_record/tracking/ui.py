"""What a person sees in the MLflow UI: the model-training view, the key metrics first.

MLflow 3.17 opens every experiment in its GenAI view (Overview, Traces, Judges, Prompts) unless
the address says otherwise: the view is chosen by the query parameter ``workflowType`` of the
address, else by the GenAI / Model training switch at the top left, which the browser remembers
(``localStorage``). The experiment tag ``mlflow.experimentKind`` is MLflow's own declaration of
the experiment's kind; 3.17 does not yet pick the view from it, later versions may. So:

* :func:`prepare_experiment` tags each experiment of this project
  ``mlflow.experimentKind=custom_model_development`` (an explicit other value is left alone, and
  said) and keeps the saved view "Key metrics" on it: the experiment tag
  ``mlflow.sharedViewState.<id>`` that the runs page's **Views** menu lists and that
  ``?viewStateShareKey=<id>`` opens, with F1, precision, recall, the threshold, estimated and
  labelled F1 and the sweep's best threshold as the first columns of the runs table;
* :func:`runs_url` and :func:`run_url` are the addresses printed after a run
  (``?workflowType=machine_learning``, the runs page with the saved view);
* :func:`describe_training_run`, :func:`sweep_description` and :func:`child_description` write the
  run description (tag ``mlflow.note.content``, markdown), the first thing on a run's Overview:
  the key figures and where the plots are. A run that fails afterwards gets the failure as its
  description instead (:mod:`golden_record.tracking.diagnostics`).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any, Callable, Mapping

#: the port ``make mlflow-ui`` serves on unless ``UI_PORT`` says another (the Makefile's variable,
#: exported to every target: ``make train UI_PORT=5001`` prints addresses on 5001)
DEFAULT_UI_PORT = 5000
UI_HOST = "127.0.0.1"
UI_BASE = f"http://{UI_HOST}:{DEFAULT_UI_PORT}"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
#: MLflow's experiment kind for model training ("Machine learning" in its experiment-type selector)
MODEL_TRAINING_KIND = "custom_model_development"
#: the query parameter (and value) that opens MLflow 3.17's model-training view
WORKFLOW_QUERY = "workflowType=machine_learning"
NOTE_TAG = "mlflow.note.content"
SHARED_VIEW_PREFIX = "mlflow.sharedViewState."
KEY_METRICS_VIEW = "golden_record_key_metrics"
KEY_METRICS_VIEW_NAME = "Key metrics"
THRESHOLD_PARAM = "model.params.match_threshold"
#: the runs table's first columns in the saved view (a metric no run has logged is not shown)
KEY_COLUMNS = ("metrics.`f1_score`", "metrics.`precision`", "metrics.`recall`", f"params.`{THRESHOLD_PARAM}`",
               "metrics.`estimated_f1`", "metrics.`labelled_f1`", "metrics.`best_threshold`",
               "metrics.`best_f1_score`")
MAX_NOTE = 7000          # MLflow keeps a run tag's value up to 8,000 characters


def key_metrics_state() -> dict[str, Any]:
    """The runs page's state in the saved view: the key columns selected, in this order, first."""
    return {"selectedColumns": list(KEY_COLUMNS), "columnOrder": ["attributes.`Run Name`", *KEY_COLUMNS],
            # wide enough for a metric's full value (0.9927657206437048): nothing cut off with "…"
            "columnWidths": {"attributes.`Run Name`": 330, f"params.`{THRESHOLD_PARAM}`": 220,
                             **{c: 160 for c in KEY_COLUMNS if c.startswith("metrics.")}}}


log = logging.getLogger(__name__)


def _say(text: str) -> None:
    log.warning(text)


def prepare_experiment(client, experiment_id: str, name: str, say: Callable[[str], None] = _say) -> None:
    """The experiment's kind tag (when missing) and the saved view "Key metrics" (when missing or
    not the current one). A kind set to another value is kept and reported through ``say``; a store
    refusing the tags (e.g. permissions on a shared server) is reported, not raised: the runs are
    logged either way."""
    try:
        tags = client.get_experiment(experiment_id).tags or {}
        kind = tags.get(EXPERIMENT_KIND_TAG)
        if not kind:
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
        elif kind != MODEL_TRAINING_KIND:
            say(f"note: experiment '{name}' has {EXPERIMENT_KIND_TAG}={kind} (set by someone else), left as it is; "
                f"its runs are model training: open them with the address printed at the end (it asks for "
                f"the Model training view), or set the tag to {MODEL_TRAINING_KIND}")
        key = SHARED_VIEW_PREFIX + KEY_METRICS_VIEW
        state = key_metrics_state()
        current = _view_state(tags.get(key))
        if current != state:
            now = int(time.time() * 1000)
            envelope = {"name": KEY_METRICS_VIEW_NAME, "createdAt": now, "updatedAt": now,
                        "state": json.dumps(state, separators=(",", ":"))}
            client.set_experiment_tag(experiment_id, key, json.dumps(envelope, separators=(",", ":")))
    except Exception as exc:  # noqa: BLE001 - the UI's conveniences never stop a run
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        say(f"note: could not tag experiment '{name}' for the MLflow UI ({first}); the runs are logged as usual, "
            "the runs table just shows MLflow's default columns")


def _view_state(value: str | None) -> dict | None:
    try:
        return json.loads(json.loads(value)["state"]) if value else None
    except (ValueError, KeyError, TypeError):
        return None


def ui_port() -> int:
    """The port the MLflow UI is served on: ``UI_PORT`` when it holds a port number, else 5000."""
    text = os.environ.get("UI_PORT", "").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 65535 else DEFAULT_UI_PORT


def ui_base() -> str:
    """``http://127.0.0.1:<port>``: the address ``make mlflow-ui`` serves (:func:`ui_port`)."""
    return f"http://{UI_HOST}:{ui_port()}"


def ui_command() -> str:
    """The command that serves the UI on :func:`ui_port` (``make mlflow-ui``, with ``UI_PORT=`` when not 5000)."""
    port = ui_port()
    return "make mlflow-ui" + ("" if port == DEFAULT_UI_PORT else f" UI_PORT={port}")


def runs_url(experiment_id: str, base: str | None = None) -> str:
    """The runs page in the model-training view, with the saved view "Key metrics"."""
    return (f"{base or ui_base()}/#/experiments/{experiment_id}/runs?{WORKFLOW_QUERY}"
            f"&viewStateShareKey={KEY_METRICS_VIEW}")


def run_url(experiment_id: str, run_id: str, base: str | None = None) -> str:
    """A run's page (its Overview starts with the description) in the model-training view."""
    return f"{base or ui_base()}/#/experiments/{experiment_id}/runs/{run_id}?{WORKFLOW_QUERY}"


def _num(value: Any, digits: int = 4) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{v:.{digits}f}" if math.isfinite(v) else "n/a"


def _has(metrics: Mapping[str, Any], key: str) -> bool:
    try:
        return key in metrics and math.isfinite(float(metrics[key]))
    except (TypeError, ValueError):
        return False


def _count(metrics: Mapping[str, Any], key: str) -> str:
    return f"{int(float(metrics[key])):,}" if _has(metrics, key) else "n/a"


def _interval(metrics: Mapping[str, Any], name: str) -> str:
    lo, hi = f"{name}_ci_low", f"{name}_ci_high"
    return f"{_num(metrics[lo])} – {_num(metrics[hi])}" if _has(metrics, lo) and _has(metrics, hi) else ""


def _plots_line(artifacts: Mapping[str, list[str]] | None) -> str:
    if artifacts is None:
        return "Plots: **Artifacts** tab → `plots/`"
    plots = artifacts.get("plots") or []
    line = ("Plots: **Artifacts** tab → `plots/` (" + ", ".join(p.removesuffix(".png") for p in plots) + ")"
            if plots else "Plots: none were logged")
    waterfalls = artifacts.get("explanations") or []
    if waterfalls:
        line += (f"; why single pairs matched (waterfall charts): `explanations/` ({len(waterfalls)} file"
                 f"{'s' if len(waterfalls) != 1 else ''})")
    return line


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


def _with_interval(metrics: Mapping[str, Any], name: str) -> str:
    return _num(metrics.get(name)) + _paren(_interval(metrics, name))


#: lines of a description: a markdown hard line break each (MLflow shows the first few lines of a
#: description and folds the rest under "Show more", so the key figures come first)
BREAK = "  \n"


def training_description(metrics: Mapping[str, Any], threshold: float,
                         artifacts: Mapping[str, list[str]] | None = None) -> str:
    """A training run's description: precision, recall, F1 (with their 95 % intervals when the
    bootstrap ran), the threshold, estimated and labelled F1, where the plots are, the pairs."""
    t = f"{float(threshold):g}"
    if _has(metrics, "f1_score"):
        head = (f"**F1 {_num(metrics['f1_score'])}**{_paren(_interval(metrics, 'f1_score'))} · precision "
                f"{_with_interval(metrics, 'precision')} · recall {_with_interval(metrics, 'recall')} "
                f"at match threshold **{t}**")
        second = ("95 % intervals (people resampled); " if _interval(metrics, "f1_score") else "") + \
            f"estimated F1 {_num(metrics.get('estimated_f1'))} (from the match probabilities alone)"
    else:
        head = (f"Evaluation skipped: no ground truth (`data.truth`). At match threshold **{t}**, estimated from "
                f"the match probabilities: **F1 {_num(metrics.get('estimated_f1'))}** · precision "
                f"{_num(metrics.get('estimated_precision'))} · recall {_num(metrics.get('estimated_recall'))}")
        second = ""
    if _has(metrics, "labelled_f1"):
        second += ("; " if second else "") + f"labelled F1 {_with_interval(metrics, 'labelled_f1')} (pairs reviewers labelled)"
    pairs = (f"Pairs: {_count(metrics, 'training_pairs')} candidate pairs, {_count(metrics, 'match_pairs')} "
             f"classified as matches")
    if _has(metrics, "true_match_pairs"):
        pairs += (f", {_count(metrics, 'true_match_pairs')} true duplicate pairs (pairs completeness "
                  f"{_num(metrics.get('pairs_completeness'))})")
    lines = [head] + ([second] if second else []) + [_plots_line(artifacts), pairs]
    return BREAK.join(lines)[:MAX_NOTE]


def child_description(metrics: Mapping[str, Any], threshold: float, combo: Mapping[str, Any] | None = None) -> str:
    """A sweep child's description: its own figures."""
    p = "" if _has(metrics, "f1_score") or not _has(metrics, "labelled_f1") else "labelled_"
    f1 = "f1_score" if not p else "labelled_f1"
    text = (f"**{'labelled ' if p else ''}F1 {_num(metrics.get(f1))}** · precision {_num(metrics.get(p + 'precision'))} · "
            f"recall {_num(metrics.get(p + 'recall'))} at match threshold **{float(threshold):g}**; "
            f"estimated F1 {_num(metrics.get('estimated_f1'))}. "
            f"{_count(metrics, 'match_pairs')} of {_count(metrics, 'training_pairs')} candidate pairs classified "
            f"as matches ({_count(metrics, p + 'false_positives')} false matches, "
            f"{_count(metrics, p + 'false_negatives')} true pairs missed{' among the labelled pairs' if p else ''}).")
    if combo:
        text += " Settings: " + ", ".join(f"`{k}` = `{v}`" for k, v in combo.items()) + "."
    return text[:MAX_NOTE]


def sweep_description(summary: Mapping[str, Any], best_run_name: str, target_precision: float,
                      children: int, artifacts: Mapping[str, list[str]] | None = None) -> str:
    """A sweep parent's description: the best threshold and its F1, the lowest threshold reaching
    the target precision, how to see the children, where the plot is."""
    labelled = "best_f1_score" not in summary and "best_labelled_f1" in summary    # chosen on review labels
    prefix, by = ("best_labelled_", "labelled F1") if labelled else ("best_", "F1")
    lines = [f"Best threshold by {by}: **{float(summary['best_threshold']):g}**, **{by} "
             f"{_num(summary.get(prefix + ('f1' if labelled else 'f1_score')))}** (precision "
             f"{_num(summary.get(prefix + 'precision'))}, recall {_num(summary.get(prefix + 'recall'))}); "
             f"child run `{best_run_name}`"]
    if "lowest_threshold_at_target_precision" in summary:
        lines.append(f"Lowest threshold with precision ≥ {target_precision:g}: "
                     f"{float(summary['lowest_threshold_at_target_precision']):g} (recall "
                     f"{_num(summary.get('recall_at_target_precision'))})")
    else:
        lines.append(f"No threshold reaches precision {target_precision:g}")
    lines += [f"{children} child run{'s' if children != 1 else ''}, one per threshold"
              + (f" and combination ({int(summary['combinations'])} combinations)"
                 if int(summary.get("combinations", 1)) > 1 else "")
              + ": expand this run in the runs table (the button beside its name), tick the children and press "
              "**Compare**. Every threshold's figures: `sweep_results.csv`", _plots_line(artifacts)]
    return BREAK.join(lines)[:MAX_NOTE]


def logged_artifacts(client, run_id: str, folders=("plots", "explanations")) -> dict[str, list[str]]:
    """The file names logged under each folder (one level; a folder not logged is an empty list)."""
    out = {}
    for folder in folders:
        try:
            out[folder] = sorted(f.path.rsplit("/", 1)[-1] for f in client.list_artifacts(run_id, folder)
                                 if not f.is_dir)
        except Exception:  # noqa: BLE001 - an artifact store that cannot list: say nothing wrong
            out[folder] = []
    return out


def describe_run(client, run_id: str, text: str) -> None:
    client.set_tag(run_id, NOTE_TAG, text)


def describe_training_run(run_id: str, metrics: Mapping[str, Any], threshold: float, client=None) -> None:
    """Write the training run's description (after its metrics and artifacts are logged)."""
    import mlflow

    client = client or mlflow.MlflowClient()
    describe_run(client, run_id, training_description(metrics, threshold, logged_artifacts(client, run_id)))


def describe_sweep_run(run_id: str, summary: Mapping[str, Any], best_run_name: str, target_precision: float,
                       children: int, client=None) -> None:
    """Write the sweep parent's description (after its summary and plot are logged)."""
    import mlflow

    client = client or mlflow.MlflowClient()
    describe_run(client, run_id, sweep_description(summary, best_run_name, target_precision, children,
                                                   logged_artifacts(client, run_id, ("plots",))))
