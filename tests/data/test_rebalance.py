"""rebalance v1 / v2 / v3 / none: class ratio, rows, SMOTE marks, metadata, the test set untouched."""

import numpy as np
import pytest

from tsssl.data import WindowSet, build_windows, chronological_split, rebalance, synthetic_market


def windows(n=200, n_pos=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=np.int64)
    y[rng.choice(n, n_pos, replace=False)] = 1
    end = np.datetime64("2020-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return WindowSet(
        X=rng.normal(size=(n, 4, 3)).astype(np.float32),
        y=y,
        end_date=end,
        ticker=np.array(["A", "B"] * (n // 2), dtype=object),
        feature_names=["a", "b", "c"],
        meta={"horizon": 5, "window": 4},
        label_end_date=end + np.timedelta64(5, "D"),
    )


def rows_of(ws):
    return {r.tobytes() for r in ws.X}


def test_v1_undersamples_the_majority_to_the_minority():
    ws = windows()
    out = rebalance(ws, "v1", seed=0)
    assert (out.y == 1).sum() == (out.y == 0).sum() == 20
    assert rows_of(out) <= rows_of(ws) and len(rows_of(out)) == 40  # real, distinct rows
    assert not out.synthetic.any() and (np.diff(out.end_date) > np.timedelta64(0)).all()  # order kept
    assert out.meta["rebalance"] == "v1" and out.meta["rebalance_counts"] == {
        "before": {"0": 180, "1": 20},
        "after": {"0": 20, "1": 20},
    }
    assert out.meta["window"] == 4 and len(out.label_end_date) == 40
    same = rebalance(ws, "v1", seed=0)
    np.testing.assert_array_equal(same.X, out.X)
    assert not np.array_equal(rebalance(ws, "v1", seed=1).end_date, out.end_date)


def test_v2_oversamples_the_minority_with_real_rows():
    ws = windows()
    out = rebalance(ws, "v2", seed=0)
    assert (out.y == 1).sum() == (out.y == 0).sum() == 180
    assert rows_of(out) == rows_of(ws)  # every original, no new one
    assert not out.synthetic.any() and out.meta["rebalance"] == "v2"
    for i in np.flatnonzero(out.y == 1)[:10]:  # duplicates keep their labels
        j = np.flatnonzero(ws.end_date == out.end_date[i])[0]
        np.testing.assert_array_equal(ws.X[j], out.X[i])


def test_v3_smote_marks_synthetic_rows_and_keeps_the_originals():
    ws = windows()
    out = rebalance(ws, "v3", seed=0)
    assert (out.y == 1).sum() == (out.y == 0).sum() == 180
    assert out.X.shape == (360, 4, 3) and out.X.dtype == np.float32
    np.testing.assert_array_equal(out.X[:200], ws.X)
    np.testing.assert_array_equal(out.y[:200], ws.y)
    new = out.synthetic
    assert new.sum() == 160 and not new[:200].any()
    assert (out.y[new] == 1).all() and set(out.ticker[new]) == {"<smote>"}
    assert np.isnat(out.end_date[new]).all() and np.isnat(out.label_end_date[new]).all()
    # each new window lies between minority windows: inside their per-feature range
    pos = ws.X[ws.y == 1]
    assert (out.X[new] >= pos.min(axis=0) - 1e-6).all() and (out.X[new] <= pos.max(axis=0) + 1e-6).all()
    assert out.meta["rebalance"] == "v3" and out.meta["smote_k_neighbors"] == 5


def test_v3_adapts_k_to_a_tiny_minority_and_refuses_a_single_one():
    with pytest.warns(UserWarning, match="k_neighbors=2 instead of 5"):
        out = rebalance(windows(n_pos=3), "v3")
    assert (out.y == 1).sum() == (out.y == 0).sum() and out.meta["smote_k_neighbors"] == 2
    with pytest.raises(ValueError, match="SMOTE needs at least 2 windows of the minority class.*got 1"):
        rebalance(windows(n_pos=1), "v3")


def test_none_keeps_everything():
    ws = windows()
    out = rebalance(ws, "none")
    assert out.X is ws.X and out.meta["rebalance"] == "none" and out.base_rate == ws.base_rate


def test_bad_strategy_and_one_class_are_named():
    with pytest.raises(ValueError, match="strategy must be one of v1, v2, v3, none .*got 'smote'"):
        rebalance(windows(), "smote")
    for strategy in ("v1", "v2", "v3"):
        with pytest.raises(
            ValueError,
            match=f"rebalance\\(strategy='{strategy}'\\) needs windows of both "
            "classes 0 and 1, got only class 0 \\(200 windows\\)",
        ):
            rebalance(windows(n_pos=0), strategy)
    assert len(rebalance(windows(n_pos=0), "none")) == 200


def test_training_windows_only_and_the_test_set_untouched():
    ws = build_windows(synthetic_market(4, 260, seed=3), window=10, horizon=5)
    split = chronological_split(ws, test_frac=0.3)
    test_X, test_y, test_rate = split.test.X.copy(), split.test.y.copy(), split.test.base_rate
    for strategy in ("v1", "v2", "v3"):
        train = rebalance(split.train, strategy, seed=0)
        assert train.base_rate == 0.5
        assert train.meta["split"]["part"] == "train"
    np.testing.assert_array_equal(split.test.X, test_X)
    np.testing.assert_array_equal(split.test.y, test_y)
    assert split.test.base_rate == test_rate < 0.5 and not split.test.synthetic.any()
    with pytest.raises(ValueError, match="rebalance the training windows only"):
        rebalance(split.test, "v2")
