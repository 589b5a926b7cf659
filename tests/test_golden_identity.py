"""Stable golden ids across rebuilds (issue 14, point 2): a cluster keeps the previous golden id it
shares most members with; the ids that disappear are redirected (no database)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from golden_record.golden.identity import MERGED, REMOVED, assign_ids


def _prev(mapping: dict) -> pd.DataFrame:
    return pd.DataFrame({"record_id": list(mapping), "golden_id": list(mapping.values())})


def test_first_build_uses_the_smallest_member_id():
    ids = np.array([10, 11, 12, 13])
    out = assign_ids(ids, np.array([0, 0, 1, 1]), 2)
    assert list(out.golden_ids) == [10, 12] and out.stats["golden_ids_new"] == 2 and out.redirects.empty


def test_nothing_changed_keeps_every_id_even_when_cluster_numbers_move():
    ids = np.array([1, 2, 3, 4, 5])
    previous = _prev({1: 7, 2: 7, 3: 9, 4: 9, 5: 5})            # ids need not be the smallest member
    out = assign_ids(ids, np.array([2, 2, 0, 0, 1]), 3, previous)
    assert list(out.golden_ids) == [9, 5, 7]
    assert out.stats == {"golden_ids_kept": 3, "golden_ids_new": 0, "golden_ids_merged": 0, "golden_ids_retired": 0}


def test_a_new_record_joins_its_person_and_a_new_person_gets_a_new_id():
    ids = np.array([1, 2, 3, 20, 21])
    previous = _prev({1: 1, 2: 1, 3: 3})
    out = assign_ids(ids, np.array([0, 0, 1, 1, 2]), 3, previous)
    assert out.golden_ids[0] == 1 and out.golden_ids[1] == 3 and out.golden_ids[2] == 21
    assert out.stats["golden_ids_kept"] == 2 and out.stats["golden_ids_new"] == 1


def test_a_merge_keeps_the_larger_part_and_redirects_the_other():
    ids = np.array([1, 2, 3, 4, 5])
    previous = _prev({1: 1, 2: 1, 3: 1, 4: 4, 5: 4})
    out = assign_ids(ids, np.zeros(5, dtype=int), 1, previous)
    assert list(out.golden_ids) == [1]
    assert out.redirects.to_dict(orient="records") == [{"old_golden_id": 4, "new_golden_id": 1, "reason": MERGED}]
    assert out.stats["golden_ids_merged"] == 1


def test_a_split_keeps_the_id_on_the_larger_part_and_never_reuses_an_id():
    ids = np.array([1, 2, 3, 4])
    previous = _prev({1: 1, 2: 1, 3: 1, 4: 4})
    # record 1 leaves its cluster: the larger part (2, 3) keeps id 1; record 1 alone cannot take
    # its own id (1 is taken), so it gets a fresh one above every id used so far
    out = assign_ids(ids, np.array([0, 1, 1, 2]), 3, previous, retired={50})
    assert out.golden_ids[1] == 1 and out.golden_ids[2] == 4 and out.golden_ids[0] == 51


def test_removed_records_retire_their_id():
    ids = np.array([1, 2])
    previous = _prev({1: 1, 2: 1, 3: 3})
    out = assign_ids(ids, np.array([0, 0]), 1, previous)
    assert out.redirects.to_dict(orient="records") == [{"old_golden_id": 3, "new_golden_id": None, "reason": REMOVED}]
    assert out.stats["golden_ids_retired"] == 1


def test_text_ids():
    ids = np.array(["a", "b", "c"], dtype=object)
    previous = _prev({"a": "a", "b": "a"})
    out = assign_ids(ids, np.array([0, 1, 1]), 2, previous)
    assert list(out.golden_ids) == ["a", "b"]            # b is no id yet: a fresh cluster takes it
    # b's records split ({a} and {b}), c's stay whole in {b, c}: c keeps its id, b goes on with {a}, nothing retired
    out = assign_ids(ids, np.array([1, 0, 0]), 2, _prev({"a": "b", "b": "b", "c": "c"}))
    assert list(out.golden_ids) == ["c", "b"] and out.redirects.empty


def test_a_merge_of_whole_golden_records_keeps_the_oldest_id_even_when_it_is_the_smaller_part():
    ids = np.array([1, 2, 3, 4, 5])
    previous = _prev({1: 9, 2: 9, 3: 9, 4: 4, 5: 4})      # 9 was given out after 4 (ids only grow)
    out = assign_ids(ids, np.zeros(5, dtype=int), 1, previous)
    assert list(out.golden_ids) == [4]
    assert out.redirects.to_dict(orient="records") == [{"old_golden_id": 9, "new_golden_id": 4, "reason": MERGED}]


def test_a_partial_rebuild_never_gives_out_an_id_used_elsewhere():
    """match-new re-clusters a neighbourhood: the ids of the rest of the table are passed in."""
    ids = np.array([100, 101, 7])
    previous = _prev({7: 7})
    out = assign_ids(ids, np.array([0, 0, 1]), 2, previous, retired={250}, used_elsewhere={100}, id_floor=300)
    assert out.golden_ids[1] == 7 and out.golden_ids[0] == 301      # 100 is some other person's golden id
    out = assign_ids(np.array([100, 101]), np.array([0, 1]), 2, None, used_elsewhere=set(), id_floor=300)
    assert list(out.golden_ids) == [100, 101]
