"""Walk-forward folds of `tsssl report` (docs/design.md, "Walk-forward"): the folds' test blocks do
not overlap, each fold trains only on windows whose labels end an embargo before its test block,
the pooled predictions cover the folds' test windows exactly once, and a resumed grid reads every
fold's cells back."""

import numpy as np
import pandas as pd
import pytest

from tsssl import data
from tsssl.config import resolve_config
from tsssl.pipeline import prepare_folds, run_grid
from tsssl.pipeline.cell import CellResult
from tsssl.pipeline.cellstore import CellStore
from tsssl.pipeline.grid import split_mode
from tsssl.pipeline.walkforward import pool_folds

EMBARGO = 3


@pytest.fixture(scope="module")
def prices():
    return data.synthetic_market(4, 700, seed=3, start="2001-01-01")


@pytest.fixture(scope="module")
def folds(prices):
    return prepare_folds(prices, features=("ohlcv", "ohlcv+padic"), folds=3, test_frac=0.3, embargo=EMBARGO)


def _keys(ws):
    return list(zip(ws.ticker.tolist(), np.asarray(ws.end_date).astype("datetime64[D]").tolist()))


def _trading_days_between(prices, ticker, after, before):
    """The ticker's trading days d with after < d < before."""
    days = pd.to_datetime(prices.loc[prices["ticker"] == ticker, "date"]).to_numpy()
    return int(((days > np.datetime64(after)) & (days < np.datetime64(before))).sum())


def test_folds_do_not_overlap_and_train_on_the_embargoed_past_only(prices, folds):
    assert len(folds) == 3
    starts = [f["ohlcv"].split.test_start for f in folds]
    for k, fold in enumerate(folds):
        sd = fold["ohlcv"]
        assert sd.test.end_date.min() == np.datetime64(starts[k])
        if k + 1 < len(folds):  # the block ends before the next one starts
            assert sd.test.end_date.max() < np.datetime64(starts[k + 1])
        for part in (sd.fit, sd.val):  # everything the fold's models and threshold saw
            assert (part.label_end_date < np.datetime64(starts[k])).all()
            for t in np.unique(part.ticker):
                last = part.label_end_date[part.ticker == t].max()
                assert _trading_days_between(prices, t, last, starts[k]) >= EMBARGO
        # the same rows in every feature set
        assert _keys(fold["ohlcv+padic"].test) == _keys(sd.test)
        assert _keys(fold["ohlcv+padic"].fit) == _keys(sd.fit)
    assert len(folds[2]["ohlcv"].fit) > len(folds[0]["ohlcv"].fit)  # an expanding window


def _fake_runs(fold, k):
    """One run per fold whose scores name the window they belong to (fold * 1e6 + row)."""
    sd = fold["ohlcv"]
    return [
        CellResult(
            method="lstm", features="ohlcv", rebalance="v1", seed=0,
            test_score=k * 1e6 + np.arange(len(sd.test), dtype=float), val_score=np.zeros(len(sd.val)),
            threshold=0.1 * (k + 1), threshold_description=f"fold {k}", scored_by="test",
        )
    ]  # fmt: skip


def test_pooled_predictions_cover_each_fold_test_window_once(folds):
    pooled = pool_folds(folds, [_fake_runs(f, k) for k, f in enumerate(folds)])
    tests = [f["ohlcv"].test for f in folds]
    keys = _keys(pooled.test)
    assert len(keys) == len(set(keys)) == sum(len(t) for t in tests)
    assert set(keys) == {key for t in tests for key in _keys(t)}
    (cell,) = pooled.cells
    where = {key: i for i, key in enumerate(keys)}
    for k, t in enumerate(tests):
        rows = np.array([where[key] for key in _keys(t)])
        assert (pooled.test_fold[rows] == k).all()
        np.testing.assert_array_equal(cell.test_score[rows], k * 1e6 + np.arange(len(t)))  # its own fold's model
        np.testing.assert_allclose(cell.test_threshold[rows], 0.1 * (k + 1))
    assert [f["fold"] for f in pooled.folds] == [1, 2, 3]
    assert pooled.split["n_test"] == len(keys) and pooled.split["mode"] == "walk-forward"


def test_auto_walks_forward_on_a_long_panel_only(prices):
    panel = data.synthetic_market(10, 16 * 261, seed=0, start="2000-01-03")
    assert split_mode("auto", panel) == "walk-forward"
    assert split_mode("auto", prices) == "single"  # 4 tickers, under 3 years
    assert split_mode("walk-forward", prices) == "walk-forward"
    with pytest.raises(ValueError, match="split must be one of auto, single, walk-forward"):
        split_mode("rolling", prices)


def test_a_resumed_walk_forward_grid_reads_every_fold_back(prices, tmp_path):
    cfg = resolve_config(None, {"max_steps": 2, "batch_size": 64, "device": "cpu", "encoder_kwargs": {"hidden": 4},
                                "test_frac": 0.3, "embargo": EMBARGO})  # fmt: skip
    axes = {"methods": ["lstm", "siamcl"], "features": ["ohlcv"], "rebalances": ["v1"], "seeds": [0]}
    seen = []
    first = run_grid(cfg, **axes, prices=prices, split="walk-forward", folds=2, store=CellStore(tmp_path),
                     on_cell=lambda c, cached: seen.append(cached))  # fmt: skip
    assert seen == [False] * 4 and sorted(p.name for p in tmp_path.iterdir()) == ["fold1", "fold2"]
    seen.clear()
    again = run_grid(cfg, **axes, prices=prices, split="walk-forward", folds=2, store=CellStore(tmp_path),
                     on_cell=lambda c, cached: seen.append(cached))  # fmt: skip
    assert seen == [True] * 4
    for a, b in zip(first.cells, again.cells):
        np.testing.assert_array_equal(a.test_score, b.test_score)
        np.testing.assert_array_equal(a.calls(), b.calls())
    assert len(first.test) == len(first.cells[0].test_score) == len(first.test_fold)
    assert first.split["n_folds"] == 2 and len(first.folds) == 2


def test_folds_from_a_given_test_start_split_the_rest_evenly(prices):
    folds = prepare_folds(prices, features=("ohlcv",), folds=2, test_start="2002-06-03")
    one, two = (f["ohlcv"] for f in folds)
    assert one.test.end_date.min() == np.datetime64("2002-06-03")
    n1, n2 = (len(np.unique(sd.test.end_date)) for sd in (one, two))
    assert abs(n1 - n2) <= 1 and two.test.end_date.max() == one.windows.end_date.max()
    with pytest.raises(ValueError, match="fewer than n_folds=2"):
        prepare_folds(prices, features=("ohlcv",), folds=2, test_start=str(one.windows.end_date.max())[:10])


@pytest.mark.parametrize("columns, expected", [(None, ["ohlcv", "ohlcv+padic"]), (["close"], ["close", "close+padic"])])
def test_the_default_grid_columns_follow_the_columns_the_prices_have(prices, columns, expected):
    cfg = resolve_config(None, {"epochs": None, "max_steps": 2, "batch_size": 32, "device": "cpu"}, command="report")
    assert cfg.report.features == ["auto", "auto+padic"]
    given = prices if columns is None else prices[["date", "ticker", *columns]]
    grid = run_grid(cfg, methods=["lstm"], features=cfg.report.features, rebalances=["none"], seeds=[0], prices=given)
    assert grid.features == expected and {c.features for c in grid.cells} == set(expected)
