"""The Fellegi–Sunter EM on data simulated from a known latent-class model.
Comparison levels are drawn class by class from known level probabilities, so what EM should
recover is known exactly: the m-probabilities, the match share, the number of related classes,
and which classes hold matches.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from golden_record.cli import Progress
from golden_record.linkage.model import LEVEL_FLOOR, FellegiSunter, RandomPairStats, level_frequencies
from golden_record.linker import Linker

# six comparisons with levels 0 = far .. last = exact; two "personal" (given name, date of birth),
# two "place" (address, postcode), two identifiers/contacts
NAMES = ["given_name", "date_of_birth", "address", "postcode", "national_id", "phone"]
LABELS = [["far", ">=0.8", "exact"], ["different", "off_by_one", "exact"], ["far", ">=0.7", "exact"],
          ["different", "exact"], ["different", "exact"], ["different", "exact"]]

MATCH = [[0.03, 0.07, 0.90], [0.02, 0.05, 0.93], [0.10, 0.10, 0.80], [0.10, 0.90], [0.05, 0.95], [0.20, 0.80]]
UNRELATED = [[0.90, 0.08, 0.02], [0.97, 0.02, 0.01], [0.995, 0.004, 0.001], [0.98, 0.02], [0.9999, 0.0001],
             [0.9999, 0.0001]]
# members of one household: same place and phone, another given name and date of birth
HOUSEHOLD = [[0.85, 0.10, 0.05], [0.95, 0.04, 0.01], [0.05, 0.10, 0.85], [0.05, 0.95], [0.95, 0.05], [0.30, 0.70]]
# records of one person who moved: personal fields agree, place fields do not
MOVED = [[0.03, 0.07, 0.90], [0.02, 0.05, 0.93], [0.97, 0.02, 0.01], [0.97, 0.03], [0.05, 0.95], [0.30, 0.70]]


def simulate(classes: list[tuple[list, int]], seed: int = 0, missing: float = 0.05):
    """Levels for ``count`` pairs of each (theta, count) class, some values missing; class ids."""
    rng = np.random.default_rng(seed)
    blocks, ids = [], []
    for k, (theta, count) in enumerate(classes):
        cols = [rng.choice(len(p), size=count, p=p) for p in theta]
        block = np.stack(cols, axis=1).astype(np.int8)
        block[rng.random(block.shape) < missing] = -1
        blocks.append(block)
        ids.append(np.full(count, k))
    return np.concatenate(blocks), np.concatenate(ids)


def random_pairs(seed: int = 1) -> RandomPairStats:
    """What the pipeline measures on random record pairs: u from unrelated pairs, and which
    comparisons agree together beyond chance from a sample holding, as a real table's does, a few
    members of one household (0.5 %), whose shared address, postcode and phone agree together."""
    levels, _ = simulate([(UNRELATED, 200_000)], seed=seed)
    u = level_frequencies(levels, [len(x) for x in LABELS])
    mixed, _ = simulate([(UNRELATED, 199_000), (HOUSEHOLD, 1_000)], seed=seed + 1)
    return RandomPairStats(u, RandomPairStats.of(mixed, [len(x) for x in LABELS]).dependent)


def unrelated_u(seed: int = 1) -> list[np.ndarray]:
    """u as the pipeline measures it: level shares of random (unrelated) pairs."""
    return random_pairs(seed).u


def floored(theta: list[float]) -> np.ndarray:
    """Level shares as a fitted match class holds them: none below LEVEL_FLOOR."""
    t = np.asarray(theta, float)
    return t * (1 - LEVEL_FLOOR * len(t)) + LEVEL_FLOOR


def oracle(classes: list[tuple[list, int]], match_classes: list[int]) -> FellegiSunter:
    """The model with the true parameters: the best any fit can do on the simulated pairs."""
    model = FellegiSunter(NAMES, LABELS)
    total = sum(count for _, count in classes)
    model.class_thetas = [[list(p) for p in theta] for theta, _ in classes]
    model.class_shares = [count / total for _, count in classes]
    model.match_classes = match_classes
    model.match_share = sum(model.class_shares[k] for k in match_classes)
    return model


def fit(levels, related_classes="auto"):
    stats = random_pairs()
    return FellegiSunter(NAMES, LABELS).fit(levels, u_fixed=stats.u, max_iterations=3000, tolerance=1e-6,
                                            related_classes=related_classes, max_related_classes=3,
                                            dependent=stats.dependent)


def test_em_recovers_known_m_and_match_share_without_related_classes():
    levels, cls = simulate([(MATCH, 6_000), (UNRELATED, 30_000)])
    model = fit(levels)
    assert model.report.related_classes == 0, model.report.selection
    assert model.match_share == pytest.approx(6_000 / 36_000, abs=0.01)
    for got, want in zip(model.m, MATCH):
        assert np.abs(got - floored(want)).max() < 0.02, (got, want)
    _, prob = model.score(levels)
    assert ((prob >= 0.95) == (cls == 0)).mean() > 0.995


def test_em_recovers_m_with_a_household_class_and_bic_picks_one_related_class():
    classes = [(MATCH, 5_000), (HOUSEHOLD, 12_000), (UNRELATED, 20_000)]
    levels, cls = simulate(classes, seed=3)
    model = fit(levels)
    bic = {s["related_classes"]: s["bic"] for s in model.report.selection}
    assert model.report.related_classes == 1, bic
    assert bic[1] < bic[0] and bic[1] < bic[2], bic
    assert model.match_classes == [0]
    assert model.match_share == pytest.approx(5_000 / 37_000, abs=0.01)
    for got, want in zip(model.m, MATCH):
        assert np.abs(got - floored(want)).max() < 0.03, (got, want)
    predicted = model.score(levels)[1] >= 0.95
    best = oracle(classes, [0]).score(levels)[1] >= 0.95     # recall 0.94: some matches look like family
    assert (predicted == best).mean() > 0.995
    assert (predicted & (cls == 0)).sum() >= 0.99 * (best & (cls == 0)).sum()
    assert (predicted & (cls != 0)).sum() < 0.01 * predicted.sum()        # households stay non-matches


def test_two_class_em_mistakes_households_for_people_which_is_why_the_count_is_chosen():
    levels, cls = simulate([(MATCH, 5_000), (HOUSEHOLD, 12_000), (UNRELATED, 20_000)], seed=3)
    _, prob = fit(levels, related_classes=0).score(levels)
    assert ((prob >= 0.95) & (cls == 1)).sum() > 5_000        # most household pairs called matches


def test_people_who_moved_form_a_class_of_matches_and_households_do_not():
    classes = [(MATCH, 6_000), (MOVED, 3_000), (HOUSEHOLD, 12_000), (UNRELATED, 30_000)]
    levels, cls = simulate(classes, seed=5)
    model = fit(levels)
    assert model.report.related_classes == 2, model.report.selection
    structure = model.structure()
    matches = [c for c in structure["classes"] if c["match"]]
    assert len(matches) == 2
    # the match side holds the movers: their address is mostly far
    assert max(c["p_far"]["address"] for c in matches) > 0.7
    predicted = model.score(levels)[1] >= 0.95
    best = oracle(classes, [0, 1]).score(levels)[1] >= 0.95
    is_person = cls <= 1
    assert (predicted == best).mean() > 0.995
    assert (predicted & is_person).sum() >= 0.99 * (best & is_person).sum()
    assert (predicted & ~is_person).sum() < 0.01 * predicted.sum()
    assert model.fit_metrics()["em_related_classes_chosen"] == 2
    assert {f"em_bic_related_{k}" for k in range(4)} <= set(model.fit_metrics())


def test_a_fixed_count_is_kept_and_saved_models_score_the_same(tmp_path):
    levels, _ = simulate([(MATCH, 6_000), (MOVED, 3_000), (HOUSEHOLD, 12_000), (UNRELATED, 30_000)], seed=5)
    model = fit(levels, related_classes=2)
    assert model.report.criterion == "fixed" and len(model.report.selection) == 1
    model.save(tmp_path / "model.json")
    again = FellegiSunter.load(tmp_path / "model.json")
    assert again.match_classes == model.match_classes
    np.testing.assert_allclose(again.score(levels)[1], model.score(levels)[1])


def test_every_candidate_a_match_is_a_warning_with_the_evidence_not_an_error(capsys, caplog):
    """Blocking on a unique id that only duplicates share: every candidate pair is one person."""
    rng = np.random.default_rng(0)
    n = 400
    given = np.array([f"name{i:03d}x" for i in range(n)])
    base = pd.DataFrame({"rec_id": [f"a{i}" for i in range(n)], "given_name": given,
                         "surname": [f"family{i % 97:02d}" for i in range(n)],
                         "national_id": [f"{1000000 + i}" for i in range(n)],
                         "date_of_birth": [f"19{50 + i % 40}0{1 + i % 9}1{i % 9}" for i in range(n)]})
    dup = base.assign(rec_id=[f"b{i}" for i in range(n)])
    typo = rng.random(n) < 0.3
    dup.loc[typo, "given_name"] = dup.loc[typo, "given_name"].str[:-1] + "y"
    table = pd.concat([base, dup], ignore_index=True)
    truth = pd.Series(np.r_[np.arange(n), np.arange(n)], index=table["rec_id"])
    config = {"model": {"params": {"match_threshold": 0.5, "blocking_fields": ["national_id"]}},
              "data": {"table": "t", "id": "rec_id", "fields": {
                  "given_name": {"type": "name"}, "surname": {"type": "name"},
                  "national_id": {"type": "identifier"},
                  "date_of_birth": {"type": "date", "formats": ["%Y%m%d"]}}},
              "comparisons": [{"field": "given_name", "method": "jaro_winkler", "levels": [0.9]},
                              {"field": "surname", "method": "exact"},
                              {"field": "date_of_birth", "method": "date"}],
              "golden": {"table": "t_golden", "map_table": "t_golden_map", "default_rule": ["most_complete"]}}
    with caplog.at_level(logging.INFO, logger="golden_record"):      # the library logs; it prints nothing
        linker = Linker(_config(config, tmp=None), quiet=False).fit(table, truth)
    assert capsys.readouterr().out == ""
    err = "\n".join(r.getMessage() for r in caplog.records)
    assert f"warning: every one of the {n:,} candidate pairs is a match" in err
    assert "EM match share" in err
    assert linker.evaluate().metrics["f1_score"] == pytest.approx(1.0)


def _config(data: dict, tmp):
    from golden_record.config import ModelConfig
    return ModelConfig.model_validate(data)


def test_term_frequency_adjustment_weighs_rare_agreements_above_common_ones(tmp_path):
    """One comparison, u(exact) = 0.01 in the unrelated class: agreeing on a value held by 0.1 % of
    records is log2(0.01 / 0.001) = +3.32 bits stronger, on one held by 10 %: 3.32 bits weaker."""
    model = FellegiSunter(["surname"], [["far", "exact"]])
    model.class_thetas = [[[0.05, 0.95]], [[0.99, 0.01]]]
    model.class_shares = [0.2, 0.8]
    model.match_classes, model.match_share = [0], 0.2
    model.term_frequencies = {"surname": {"floor": 1e-5, "values": {"rare": 0.001, "kumar": 0.1}}}
    levels = np.array([[1], [1], [1], [0]], dtype=np.int8)
    agreed = {"surname": np.array(["rare", "kumar", "unseen", None], dtype=object)}
    plain, _ = model.score(levels)
    adjusted, prob = model.score(levels, agreed)
    assert adjusted - plain == pytest.approx([np.log2(0.01 / 0.001), np.log2(0.01 / 0.1), np.log2(0.01 / 1e-5), 0.0])
    assert prob[0] > prob[1]
    model.save(tmp_path / "m.json")
    np.testing.assert_allclose(FellegiSunter.load(tmp_path / "m.json").score(levels, agreed)[0], adjusted)


def test_a_fit_from_pattern_counts_is_the_fit_from_the_pairs():
    """The Spark engine aggregates pattern counts and fits on the driver: exactly the same model."""
    from golden_record.linkage.fitting import fit_model
    from golden_record.linkage.model import decode_patterns, encode_patterns

    rng = np.random.default_rng(3)
    n_levels = [3, 2, 4]
    labels = [[str(i) for i in range(n)] for n in n_levels]
    levels = np.stack([rng.integers(-1, n, 5000) for n in n_levels], axis=1).astype(np.int8)
    levels[:800] = [2, 1, 3]                                   # a cluster of agreeing pairs
    codes, counts = np.unique(encode_patterns(levels, n_levels), return_counts=True)
    order = rng.permutation(len(codes))                        # in any order
    patterns = decode_patterns(codes, n_levels)[order]
    for model_type in ("fellegi_sunter", "recordlinkage_ecm"):
        pairs = fit_model(model_type, ["a", "b", "c"], labels, levels, max_iterations=50)
        grouped = fit_model(model_type, ["a", "b", "c"], labels, patterns, counts=counts[order], max_iterations=50)
        for x, y in zip(pairs.m + pairs.u, grouped.m + grouped.u):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
        assert pairs.match_share == pytest.approx(grouped.match_share, abs=1e-12)
        assert pairs.report.iterations == grouped.report.iterations


def test_a_pair_scores_the_same_to_the_last_bit_whatever_batch_it_is_scored_in():
    """The Spark engine scores pairs batch by batch; the local engine all at once. A pattern's
    likelihood must not depend on the other patterns scored with it (a matrix product through
    BLAS did: 1 in 3 pairs differed in its last bits, splitting ties, so average precision
    differed between the engines by 3e-8)."""
    classes = [(MATCH, 3_000), (HOUSEHOLD, 6_000), (UNRELATED, 20_000)]
    levels, _ = simulate(classes, seed=5)
    model = oracle(classes, [0])
    weight, prob = model.score(levels)
    assert len(np.unique(prob)) > 100                 # many distinct patterns, a real test
    for size in (1, 7, 777, 5_000):
        for start in range(0, len(levels), size if size > 100 else 4_001):
            w, p = model.score(levels[start:start + size])
            assert np.array_equal(p, prob[start:start + size]) and np.array_equal(w, weight[start:start + size])


# a contact table: the place is three comparisons of one fact (street, postcode, state agree together)
CRM_NAMES = ["first_name", "last_name", "date_of_birth", "email", "street", "postcode", "state"]
CRM_LABELS = [["far", ">=0.8", "exact"], ["far", ">=0.8", "exact"], ["different", "off_by_one", "exact"],
              ["different", "exact"], ["far", ">=0.7", "exact"], ["different", "exact"], ["different", "exact"]]
CRM_MATCH = [[0.04, 0.08, 0.88], [0.04, 0.06, 0.90], [0.05, 0.05, 0.90], [0.20, 0.80], [0.05, 0.05, 0.90],
             [0.05, 0.95], [0.02, 0.98]]
CRM_UNRELATED = [[0.93, 0.05, 0.02], [0.95, 0.04, 0.01], [0.996, 0.002, 0.002], [0.9999, 0.0001],
                 [0.99, 0.0097, 0.0003], [0.998, 0.002], [0.92, 0.08]]
# a quarter of a person's duplicates moved: street, postcode and state change together
CRM_MOVED = [[0.04, 0.08, 0.88], [0.04, 0.06, 0.90], [0.05, 0.05, 0.90], [0.30, 0.70], [0.98, 0.015, 0.005],
             [0.99, 0.01], [0.90, 0.10]]
# members of one household: same surname and address, another given name, date of birth and e-mail
CRM_HOUSEHOLD = [[0.90, 0.07, 0.03], [0.10, 0.05, 0.85], [0.97, 0.02, 0.01], [0.97, 0.03], [0.05, 0.05, 0.90],
                 [0.02, 0.98], [0.01, 0.99]]
# people living in one place (a street, a postcode): nothing personal in common
CRM_NEIGHBOURS = [[0.93, 0.05, 0.02], [0.95, 0.04, 0.01], [0.996, 0.002, 0.002], [0.9999, 0.0001],
                  [0.60, 0.30, 0.10], [0.05, 0.95], [0.01, 0.99]]


def test_movers_of_a_contact_table_are_matches_though_their_place_is_three_fields():
    """Issue 25: counted field by field, a move (street, postcode and state) outweighed the names,
    the date of birth and the e-mail, so the movers' class was called a non-match and every mover
    scored 0 (the old rule: two thirds of the evidence). The place agrees together among random
    pairs, so it counts once: movers are matches; households and neighbours stay non-matches."""
    n_levels = [len(x) for x in CRM_LABELS]
    classes = [(CRM_MATCH, 6_000), (CRM_MOVED, 2_000), (CRM_HOUSEHOLD, 8_000), (CRM_NEIGHBOURS, 8_000),
               (CRM_UNRELATED, 20_000)]
    levels, cls = simulate([(t, c) for t, c in classes], seed=11)
    random_levels, _ = simulate([(CRM_UNRELATED, 198_000), (CRM_NEIGHBOURS, 1_500), (CRM_HOUSEHOLD, 500)], seed=12)
    stats = RandomPairStats.of(random_levels, n_levels)
    assert stats.dependent[CRM_NAMES.index("street"), CRM_NAMES.index("postcode")]
    model = FellegiSunter(CRM_NAMES, CRM_LABELS).fit(levels, u_fixed=stats.u, max_iterations=3000, tolerance=1e-6,
                                                     related_classes="auto", max_related_classes=4,
                                                     dependent=stats.dependent)
    prob = model.score(levels)[1]
    moved, person = cls == 1, cls <= 1
    assert (prob[moved] >= 0.5).mean() >= 0.95, model.structure()
    predicted = prob >= 0.5
    model_true = oracle(classes, [0, 1])
    model_true.names, model_true.labels = CRM_NAMES, CRM_LABELS
    best = model_true.score(levels)[1] >= 0.5          # the true parameters: the best any fit can do
    assert (predicted == best).mean() > 0.99
    precision = (predicted & person).sum() / predicted.sum()
    assert precision >= (best & person).sum() / best.sum() - 0.005, precision
    # the same fit judged field by field (no groups) at the old two thirds calls the movers non-matches
    old = FellegiSunter(CRM_NAMES, CRM_LABELS).fit(levels, u_fixed=stats.u, max_iterations=3000, tolerance=1e-6,
                                                   related_classes="auto", max_related_classes=4,
                                                   match_class_agreement=2 / 3)
    assert (old.score(levels)[1][moved] >= 0.5).mean() < 0.5


def test_up_to_eight_related_classes_every_count_is_a_finite_fit():
    """Starts of many classes once tilted a level's share to zero or below (from the sixth related
    class on): the log-likelihood was NaN and BIC compared NaNs."""
    levels, cls = simulate([(MATCH, 6_000), (MOVED, 3_000), (HOUSEHOLD, 12_000), (UNRELATED, 30_000)], seed=5)
    stats = random_pairs()
    model = FellegiSunter(NAMES, LABELS).fit(levels, u_fixed=stats.u, related_classes="auto", max_related_classes=8,
                                             dependent=stats.dependent)
    assert len(model.report.selection) == 9
    for entry in model.report.selection:
        assert np.isfinite(entry["log_likelihood"]) and np.isfinite(entry["bic"]), entry
    predicted = model.score(levels)[1] >= 0.5
    assert (predicted == (cls <= 1)).mean() > 0.99


def test_the_class_count_search_on_a_sample_of_patterns_sees_the_same_likelihood():
    """The search thins rare patterns (kept with probability c / c*, counted c / p): the sample's
    log-likelihood of any parameters is the full one's, up to sampling noise."""
    from golden_record.linkage.model import _Patterns
    levels, _ = simulate([(MATCH, 20_000), (HOUSEHOLD, 30_000), (UNRELATED, 50_000)], seed=7, missing=0.3)
    n_levels = [len(x) for x in LABELS]
    full = _Patterns.of(levels, n_levels)
    sample = full.sample(len(full.counts) // 3)
    assert len(sample.counts) < 0.45 * len(full.counts)
    assert sample.counts.sum() == pytest.approx(full.counts.sum(), rel=0.02)
    thetas = [[np.asarray(t, float) for t in theta] for theta in (MATCH, HOUSEHOLD, UNRELATED)]
    shares = np.log([0.2, 0.3, 0.5])
    ll = [float((d.counts * np.logaddexp.reduce(d.class_log_likelihoods(thetas) + shares, axis=1)).sum())
          for d in (full, sample)]
    assert ll[1] == pytest.approx(ll[0], rel=0.01)
    assert full.sample(len(full.counts)) is full                 # few patterns: no sample
