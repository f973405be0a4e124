"""Grouping step rows by user key (the funnel's replacement for a database sort)."""
import numpy as np
import pyarrow as pa
import pytest

from workbench.analytics._user_groups import fingerprints, group_by_key, mix, one_id_per_group


def _check_grouping(keys, codes, times, g):
    """Every row appears once, groups hold one key each, keys ascend, payload follows its row."""
    assert sorted(g.perm.tolist()) == list(range(len(keys)))
    assert (g.codes == codes[g.perm]).all() and (g.times == times[g.perm]).all()
    grouped_keys = keys[g.perm]
    assert g.starts[0] == 0 and g.starts[-1] == len(keys)
    for s, e in zip(g.starts[:-1], g.starts[1:]):
        assert e > s and (grouped_keys[s:e] == grouped_keys[s]).all()
    firsts = grouped_keys[g.starts[:-1]]
    assert (np.diff(firsts.astype(np.float64)) >= 0).all() and len(set(firsts.tolist())) == len(firsts)


@pytest.mark.parametrize("n_rows, n_users, threads", [(0, 1, 1), (1, 1, 1), (50, 7, 1), (300_000, 20_000, 2),
                                                      (300_000, 20_000, 1)])
def test_groups_are_complete_and_ordered(n_rows, n_users, threads):
    rng = np.random.default_rng(n_rows)
    keys = mix(rng.integers(0, n_users, n_rows))
    codes = rng.integers(0, 4, n_rows).astype(np.uint8)
    times = rng.integers(-10**12, 10**12, n_rows)
    _check_grouping(keys, codes, times, group_by_key(keys, codes, times, threads=threads))


def test_heavy_users_in_one_bucket_are_merge_sorted():
    """Two users with 6,000 rows each whose keys share their top 40 bits, among ordinary users."""
    rng = np.random.default_rng(1)
    heavy = np.array([0xABCDEF1234000001, 0xABCDEF1234000002], np.uint64)
    keys = np.concatenate([rng.choice(heavy, 12_000), mix(rng.integers(0, 5_000, 60_000))])
    rng.shuffle(keys)
    codes, times = np.zeros(len(keys), np.uint8), np.arange(len(keys))
    g = group_by_key(keys, codes, times)
    _check_grouping(keys, codes, times, g)
    assert np.diff(g.starts).max() > 4096


def test_mix_never_maps_two_integers_to_one_key():
    ids = np.concatenate([np.arange(-1000, 1000), [np.iinfo(np.int64).min, np.iinfo(np.int64).max]])
    assert len(set(mix(ids).tolist())) == len(ids)


@pytest.mark.parametrize("a, b", [("u1", "u2"), ("1234567", "1234568"), ("12345678", "12345679"),
                                  ("same-prefix-long-id-A", "same-prefix-long-id-B"), ("abcdefgh", "abcdefghi"),
                                  ("", "x"), ("é", "e")])
def test_two_ids_sharing_a_key_are_detected(a, b):
    ids = pa.array([a, b, a, b, a])
    keys = np.full(5, 42, np.uint64)  # a forced collision: every row has the same key
    g = group_by_key(keys, np.zeros(5, np.uint8), np.arange(5), fingerprints(ids))
    assert not one_id_per_group(g, ids)
    same = pa.array([a] * 5)
    assert one_id_per_group(group_by_key(keys, np.zeros(5, np.uint8), np.arange(5), fingerprints(same)), same)


def test_long_ids_with_the_same_fingerprint_are_compared_byte_for_byte():
    a, b = "prefix" + "x" * 70_000, "prefix" + "y" * 70_000 + "z" * 65_536
    ids = pa.array([a, b], pa.large_string())
    fp = fingerprints(ids)
    assert fp[0] == fp[1]  # lengths equal modulo 2**16, same first bytes
    g = group_by_key(np.zeros(2, np.uint64), np.zeros(2, np.uint8), np.arange(2), fp)
    assert not one_id_per_group(g, ids)


def test_non_string_ids_are_checked_too():
    ids = pa.array([1.5, 2.5, 1.5])
    keys = np.array([7, 7, 7], np.uint64)
    assert not one_id_per_group(group_by_key(keys, np.zeros(3, np.uint8), np.arange(3)), ids)
    keys = np.array([7, 9, 7], np.uint64)
    assert one_id_per_group(group_by_key(keys, np.zeros(3, np.uint8), np.arange(3)), ids)


def test_string_ids_without_fingerprints_are_refused():
    ids = pa.array(["a", "b"])
    with pytest.raises(ValueError, match="fingerprints"):
        one_id_per_group(group_by_key(np.zeros(2, np.uint64), np.zeros(2, np.uint8), np.arange(2)), ids)
