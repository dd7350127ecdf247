"""WindowViews: windows gathered from the per-day array equal the dense windows row for row;
subsets, splits and rebalancing by index keep them views; memory grows with days."""

import importlib

import numpy as np
import pytest

from tsssl.data import build_windows, chronological_split, rebalance
from tsssl.data.synthetic import synthetic_market
from tsssl.data.windowviews import WindowViews, gather_windows

rebalance_module = importlib.import_module("tsssl.data.rebalance")  # the package re-exports the function


@pytest.fixture(scope="module")
def prices():
    return synthetic_market(4, 160, seed=3)


@pytest.fixture(scope="module", params=["ohlcv", "ohlcv+padic"])
def pair(request, prices):
    """(views, dense) WindowSets of the same prices."""
    lazy = build_windows(prices, features=request.param, lazy=True)
    dense = build_windows(prices, features=request.param, lazy=False)
    return lazy, dense


def test_build_gives_views_and_dense_alike(pair):
    lazy, dense = pair
    assert isinstance(lazy.X, WindowViews) and isinstance(dense.X, np.ndarray)
    assert lazy.X.shape == dense.X.shape and lazy.X.ndim == 3 and lazy.X.dtype == np.float32
    assert len(lazy) == len(dense)
    np.testing.assert_array_equal(lazy.y, dense.y)
    np.testing.assert_array_equal(lazy.end_date, dense.end_date)
    np.testing.assert_array_equal(np.asarray(lazy.X), dense.X)  # __array__ materialises, bit for bit


def test_indexing_is_bit_identical_to_the_dense_rows(pair):
    lazy, dense = pair
    rng = np.random.default_rng(0)
    n = len(dense)
    idx = rng.integers(0, n, 50)
    mask = rng.random(n) < 0.3
    for key in (idx, mask, slice(3, 40, 7), slice(None, None, -5), 0, -1, 17, np.array([], dtype=np.int64)):
        np.testing.assert_array_equal(lazy.X[key], dense.X[key])
    np.testing.assert_array_equal(lazy.X[idx, :, 0], dense.X[idx, :, 0])
    np.testing.assert_array_equal(lazy.X[5, -1], dense.X[5, -1])
    np.testing.assert_array_equal(lazy.X[:10][:, :, 4], dense.X[:10, :, 4])


def test_take_and_subset_share_the_days(pair):
    lazy, dense = pair
    idx = np.array([9, 2, 2, 30])
    sub = lazy.X.take(idx)
    assert isinstance(sub, WindowViews) and sub.per_day is lazy.X.per_day and len(sub) == 4
    np.testing.assert_array_equal(sub[:], dense.X[idx])
    ws = lazy.subset(idx)
    assert isinstance(ws.X, WindowViews)
    np.testing.assert_array_equal(np.asarray(ws.X), dense.subset(idx).X)
    np.testing.assert_array_equal(ws.ticker, dense.ticker[idx])


def test_split_and_rebalance_v1_v2_on_views_equal_the_dense_ones(pair):
    lazy, dense = pair
    s_lazy, s_dense = chronological_split(lazy, test_frac=0.25), chronological_split(dense, test_frac=0.25)
    assert s_lazy.describe() == s_dense.describe()
    for part in ("train", "test"):
        assert isinstance(getattr(s_lazy, part).X, WindowViews)
        np.testing.assert_array_equal(np.asarray(getattr(s_lazy, part).X), getattr(s_dense, part).X)
    for strategy in ("v1", "v2"):
        b_lazy, b_dense = rebalance(s_lazy.train, strategy, seed=4), rebalance(s_dense.train, strategy, seed=4)
        assert isinstance(b_lazy.X, WindowViews) and b_lazy.meta == b_dense.meta
        np.testing.assert_array_equal(b_lazy.y, b_dense.y)
        np.testing.assert_array_equal(np.asarray(b_lazy.X), b_dense.X)


def test_smote_on_views_materialises_small_sets_and_refuses_large_ones(pair, monkeypatch):
    lazy, dense = pair
    train_lazy = chronological_split(lazy, test_frac=0.25).train
    train_dense = chronological_split(dense, test_frac=0.25).train
    out = rebalance(train_lazy, "v3", seed=1)
    np.testing.assert_array_equal(out.X, rebalance(train_dense, "v3", seed=1).X)
    monkeypatch.setattr(rebalance_module, "SMOTE_MAX_VIEWS", len(train_lazy) - 1)
    with pytest.raises(ValueError, match=r"SMOTE_MAX_VIEWS.*'v1'.*'v2'"):
        rebalance(train_lazy, "v3", seed=1)
    rebalance(train_dense, "v3", seed=1)  # dense windows are not limited


def test_views_hold_days_not_days_times_window(prices):
    lazy = build_windows(prices, features="ohlcv", lazy=True)
    rows, c, window = len(prices), lazy.X.shape[2], lazy.X.shape[1]
    held = rows * c * 4 + rows * 8 + len(lazy) * 8  # per-day float32, z-score source float64, ends int64
    assert lazy.X.nbytes == held
    assert lazy.X.nbytes * window / 4 < len(lazy) * window * c * 4  # the dense X is > window/4 times larger
    assert lazy.subset(np.arange(10)).X.nbytes == rows * (c * 4 + 8) + 10 * 8


def test_lazy_auto_keeps_small_sets_dense_and_bad_values_are_refused(prices):
    assert isinstance(build_windows(prices).X, np.ndarray)
    with pytest.raises(ValueError, match="lazy must be True, False or 'auto'"):
        build_windows(prices, lazy="yes")


def test_a_layout_without_per_window_channels_gathers_the_days():
    rng = np.random.default_rng(1)
    per_day = rng.standard_normal((30, 2)).astype(np.float32)
    ends = np.array([4, 29, 10])
    views = WindowViews(per_day, ends, window=5)
    expect = np.stack([per_day[e - 4 : e + 1] for e in ends])
    np.testing.assert_array_equal(views[:], expect)
    np.testing.assert_array_equal(gather_windows(per_day, ends, 5), expect)
    with pytest.raises(ValueError, match="ends must be"):
        WindowViews(per_day, np.array([3]), window=5)  # its first day would be row -1
    with pytest.raises(ValueError, match="zsource and z_channel"):
        WindowViews(per_day, ends, window=5, z_channel=1)
    with pytest.raises(ValueError, match="index must be"):
        views[np.array([0.5])]
