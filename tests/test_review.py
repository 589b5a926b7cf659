"""Review files: the uncertain pairs and the errors of a fitted model, both records side by side."""
from __future__ import annotations

import numpy as np
import pytest

from golden_record import Linker
from golden_record.evaluation import review
from golden_record.linkage.decision import is_match
from golden_record.synthetic.profiles import PROFILES

THRESHOLD = 0.95


@pytest.fixture(scope="module")
def scored():
    profile = PROFILES["sparse"]          # the hard profile: it has errors of both kinds
    data = profile.generate(20000, 0.2, 3)
    linker = Linker(profile.config_path).fit(data.records, data.truth.set_index("citizen_id")["entity_id"])
    return linker.scored


def test_uncertain_pairs_lie_in_the_band_most_uncertain_first(scored):
    table = review.uncertain_pairs(scored, THRESHOLD, band_bits=4, cap=50)
    p = table["match_probability"].to_numpy()
    bits = np.abs(np.log2(p / (1 - p)) - np.log2(THRESHOLD / (1 - THRESHOLD)))
    assert 0 < len(table) <= 50 and (bits <= 4 + 1e-9).all()
    assert (np.diff(bits) >= -1e-12).all()                       # closest to the threshold first
    assert (table["predicted_match"] == (p >= THRESHOLD)).all()
    inside = np.abs(np.log2(scored.probabilities / (1 - scored.probabilities))
                    - np.log2(THRESHOLD / (1 - THRESHOLD))) <= 4
    assert len(review.uncertain_pairs(scored, THRESHOLD, band_bits=4, cap=10**9)) == inside.sum()


def test_errors_are_every_false_positive_and_negative_with_both_records(scored):
    files = review.errors(scored, THRESHOLD, cap=10**9)
    predicted = is_match(scored.probabilities, THRESHOLD)
    fp, fn = files["false_positives"], files["false_negatives"]
    assert len(fp) == int((predicted & ~scored.labels).sum()) > 0
    tp = int((predicted & scored.labels).sum())
    assert len(fn) == scored.total_true_pairs - tp                # scored below the threshold + never candidates
    assert (~fn["candidate"]).sum() == scored.total_true_pairs - int(scored.labels.sum()) > 0
    assert fn.loc[~fn["candidate"], "match_probability"].isna().all()
    entity = dict(zip(scored.records["record_id"], scored.entity))
    assert all(entity[a] != entity[b] for a, b in zip(fp["left_id"], fp["right_id"]))
    assert all(entity[a] == entity[b] for a, b in zip(fn["left_id"], fn["right_id"]))
    assert (fp["match_probability"].diff().dropna() <= 0).all()    # most confident mistakes first


def test_each_row_shows_both_records_and_the_weight_of_each_comparison(scored):
    table = review.uncertain_pairs(scored, THRESHOLD, cap=20)
    fields = [c for c in scored.records.columns if c != "record_id"]
    assert {f"left_{f}" for f in fields} | {f"right_{f}" for f in fields} <= set(table.columns)
    names = scored.vectors.names
    for k, name in enumerate(names):
        missing = table[f"cmp_{name}"] == "missing"
        assert (table.loc[missing, f"w_{name}"] == 0).all()                   # no evidence either way
        assert set(table.loc[~missing, f"cmp_{name}"]) <= set(scored.vectors.labels[k])
    # each comparison's weight is its share of the pair's match weight: they add up to it
    # (the sparse model has several non-match classes, so these are Shapley values, not log2 m/u)
    assert len(scored.model.class_shares) > 2
    shares = table[[f"w_{n}" for n in names]].sum(axis=1)
    assert np.allclose(shares, table["match_weight"], atol=1e-3 * len(names))
