"""Explaining a score: each comparison's weight is its share of the pair's match weight, the shares
add up to it, and the waterfall chart and the table show them (no database, no MLflow)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from golden_record import Linker
from golden_record.linkage import model as model_mod
from golden_record.linkage.explain import comparison_fields, explain_row, prior_weight, weights_note
from golden_record.linkage.scoring import explain_records
from golden_record.linkage.model import FellegiSunter
from golden_record.synthetic.profiles import PROFILES
from golden_record.tracking.waterfall import waterfall_plot

THRESHOLD = 0.95


@pytest.fixture(scope="module")
def fitted():
    profile = PROFILES["citizens"]
    data = profile.generate(6000, 0.2, 5)
    return Linker(profile.config_path).fit(data.records, data.truth.set_index("citizen_id")["entity_id"])


def test_shares_add_up_to_the_match_weight_and_missing_weighs_nothing(fitted):
    scored = fitted.scored
    assert len(scored.model.class_shares) > 2              # several non-match classes: Shapley values
    levels = scored.vectors.levels
    shares = scored.model.comparison_weights(levels)
    assert shares.shape == levels.shape
    assert np.allclose(shares.sum(axis=1), scored.weights, atol=1e-9)
    assert (shares[levels < 0] == 0).all()


def test_with_one_non_match_class_a_weight_is_log2_m_over_u(fitted):
    two = FellegiSunter(names=fitted.scored.model.names, labels=fitted.scored.model.labels)
    two.fit(fitted.scored.vectors.levels, related_classes=0)
    levels = fitted.scored.vectors.levels[:500]
    weights, _ = two.score(levels)
    shares = two.comparison_weights(levels)
    table = two.level_weights()
    for c in range(levels.shape[1]):
        expected = np.where(levels[:, c] < 0, 0.0, np.append(table[c], 0.0)[levels[:, c]])
        assert np.allclose(shares[:, c], expected)
    assert np.allclose(shares.sum(axis=1), weights, atol=1e-9)


def test_exact_shapley_and_the_sampled_one_agree():
    """Beyond 12 comparisons the shares are averaged over 512 random orders: on a model small
    enough for the exact sum, both give the same shares (within sampling noise) and both add up."""
    rng = np.random.default_rng(1)
    P, C, K = 40, 6, 4
    log_theta = np.log(rng.dirichlet(np.ones(3), size=(P, C, K))[..., 0])
    log_theta[rng.random((P, C)) < 0.2] = 0.0                          # missing values
    log_pi = np.log(np.array([0.1, 0.3, 0.2, 0.4]))
    side = np.array([True, False, False, False])
    exact = model_mod._shapley(log_theta, log_pi, side)
    sampled = model_mod._shapley(log_theta, log_pi, side, exact_up_to=0)
    total = model_mod._log_odds(log_theta.sum(axis=1), log_pi, side) - model_mod._log_odds(np.zeros((1, K)), log_pi, side)
    assert np.allclose(exact.sum(axis=1), total) and np.allclose(sampled.sum(axis=1), total)
    assert np.abs(exact - sampled).max() < 0.15 * max(1.0, np.abs(exact).max())


def test_explanation_table_and_waterfall(fitted, tmp_path):
    records = fitted.scored.records.set_index("record_id")
    left, right = fitted.scored.pairs.left[0], fitted.scored.pairs.right[0]
    ids = fitted.scored.records["record_id"].to_numpy()
    as_dict = [{"record_id": ids[i], **records.loc[ids[i]].to_dict()} for i in (left, right)]
    expl = explain_records(fitted.scored.model, fitted.config, as_dict[0], as_dict[1], THRESHOLD)
    # the same pair scored in training: the same probability
    assert expl.probability == pytest.approx(fitted.scored.probabilities[0], abs=1e-9)
    assert expl.table["weight"].sum() == pytest.approx(expl.match_weight, abs=1e-3)
    assert expl.prior == pytest.approx(prior_weight(fitted.scored.model))
    text = expl.text()
    assert f"probability {expl.probability:.4f}" in text and "Shapley" in text
    for name in fitted.scored.vectors.names:
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
    fig = waterfall_plot(expl)
    ax = fig.axes[0]
    assert len(ax.patches) == len(fitted.scored.vectors.names) + 2     # prior, comparisons, total
    assert "scores" in ax.get_title() and ax.get_ylabel().startswith("log2 odds")
    assert fig.axes[1].get_ylabel() == "match probability"


def test_row_of_a_review_file_reads_back():
    row = {"left_id": 1, "right_id": 2, "left_a": "x", "right_a": "y", "left_b": None, "right_b": "z",
           "cmp_a": "far", "w_a": -3.0, "cmp_b": "missing", "w_b": 0.0,
           "match_weight": -2.5, "match_probability": 0.01}
    expl = explain_row(row, {"a": ["a"], "b": ["b"]}, prior=-3.0, threshold=0.9)
    assert list(expl.table["comparison"]) == ["a", "b"] and expl.table["left"].iloc[1] is None
    assert expl.joint == pytest.approx(0.5)                              # a term-frequency adjustment
    assert [name for name, _ in expl.steps()] == ["prior", "a", "b", "term frequencies"]
    assert not expl.is_match and "not a match" in expl.text()


def test_explain_and_scoring_import_each_other_one_way_only():
    """Scoring uses the explanations' columns; explaining never imports scoring (not even inside a
    function): the two modules form no import circle."""
    import ast

    from conftest import SRC

    def imports(module: str) -> set[str]:
        tree = ast.parse((SRC / "golden_record" / "linkage" / f"{module}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        return found

    assert "golden_record.linkage.explain" in imports("scoring")
    assert not {m for m in imports("explain") if "scoring" in m}
