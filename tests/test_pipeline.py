"""tsssl.pipeline: one split shared by every feature set, a purged validation slice carved from the
training period, and a decision threshold that is chosen on that slice and never on test."""

import dataclasses

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import f1_score

from tsssl import data, pipeline
from tsssl.config import resolve_config

TINY = {"start": "2014-01-01", "max_steps": 2, "batch_size": 128, "device": "cpu", "encoder_kwargs": {"hidden": 8}}


@pytest.fixture(scope="module")
def prices():
    cfg = resolve_config(None, {"start": TINY["start"]})
    return pipeline.load_configured_prices(cfg)


@pytest.fixture(scope="module")
def splits(prices):
    return pipeline.prepare_splits(prices, features=("ohlcv", "ohlcv+padic"), window=20, horizon=5)


def _rows(ws):
    return list(zip(np.asarray(ws.end_date).astype("datetime64[D]").tolist(), ws.ticker.tolist(), ws.y.tolist()))


def test_every_feature_set_gets_the_same_rows_and_dates(splits):
    a, b = splits["ohlcv"], splits["ohlcv+padic"]
    assert a.windows.X.shape[2] < b.windows.X.shape[2]  # the feature sets do differ
    for part in ("fit", "val", "test"):
        assert _rows(getattr(a, part)) == _rows(getattr(b, part)), part
        assert len(getattr(a, part)) > 0
    assert a.split.test_start == b.split.test_start
    desc = pipeline.check_same_split(splits)
    assert desc["n_test"] == len(a.test) and desc["n_fit"] == len(a.fit) and desc["n_val"] == len(a.val)
    assert desc["fit_end"] < desc["val_start"] <= desc["val_end"] < desc["test_start"] <= desc["test_end"]


def test_a_feature_set_with_other_rows_is_refused(splits):
    a = splits["ohlcv+padic"]
    short = dataclasses.replace(a, val=a.val.subset(np.arange(1, len(a.val))))
    with pytest.raises(ValueError, match="differ in their val windows"):
        pipeline.check_same_split({"ohlcv": splits["ohlcv"], "ohlcv+padic": short})


def test_an_explicit_test_start_is_used_for_every_feature_set(prices):
    s = pipeline.prepare_splits(prices, features=("ohlcv", "ohlcv+padic"), test_start="2017-06-01")
    for sd in s.values():
        assert str(np.datetime64(sd.test.end_date.min(), "D")) >= "2017-06-01"
        assert str(np.datetime64(sd.fit.end_date.max(), "D")) < "2017-06-01"


def test_validation_slice_is_purged_and_lies_between_fit_and_test(splits):
    sd = splits["ohlcv"]
    val_start, test_start = sd.val.end_date.min(), sd.test.end_date.min()
    # no fit window reads a close inside the validation slice: its label ends before the slice
    assert sd.fit.label_end_date.max() < val_start
    assert sd.fit.end_date.max() < val_start
    # nor does a validation window's label reach into the test period
    assert sd.val.label_end_date.max() < test_start
    assert sd.val.end_date.max() < test_start
    # the purge dropped the windows whose label ran into the slice: horizon days per ticker
    n_tickers = len(np.unique(sd.windows.ticker))
    assert sd.val_split.n_purged == 5 * n_tickers
    assert len(sd.fit) + len(sd.val) + sd.val_split.n_purged == len(sd.split.train)
    # the slice is the tail of the training period, at its natural base rate (not rebalanced)
    assert 0 < sd.val.base_rate < 0.2 and not sd.val.synthetic.any()


def test_bad_arguments_are_clear_errors(prices):
    with pytest.raises(ValueError, match="val_frac"):
        pipeline.prepare_splits(prices, features=("ohlcv",), val_frac=1.0)
    with pytest.raises(ValueError, match="at least one feature set"):
        pipeline.prepare_splits(prices, features=())


def _tiny_cfg():
    return resolve_config(None, TINY)


def test_threshold_is_chosen_on_validation_and_test_labels_do_not_move_it(splits):
    sd = splits["ohlcv"]
    cfg = _tiny_cfg()
    first = pipeline.run_method("lstm", cfg, sd, ["v2"], seed=0, project=False)[0]

    # the threshold is the validation slice's F1-maximising score (checked with sklearn)
    def f1_at(t):
        return f1_score(sd.val.y, first.val_score >= t, zero_division=0)

    cands = np.unique(first.val_score)
    best = max(f1_at(t) for t in cands)
    assert f1_at(first.threshold) == pytest.approx(best)
    assert first.threshold in cands and "validation slice" in first.threshold_description
    # flip every test label: the training, the validation scores and the threshold stay the same
    flipped_test = dataclasses.replace(sd.test, y=1 - sd.test.y)
    flipped_split = dataclasses.replace(sd.split, test=flipped_test)
    second = pipeline.run_method(
        "lstm", cfg, dataclasses.replace(sd, split=flipped_split), ["v2"], seed=0, project=False
    )[0]
    assert second.threshold == first.threshold
    np.testing.assert_array_equal(second.val_score, first.val_score)
    np.testing.assert_array_equal(second.test_score, first.test_score)


def test_ssl_method_trains_one_encoder_and_fits_a_probe_per_rebalance(splits):
    sd = splits["ohlcv+padic"]
    cells = pipeline.run_method("siamcl", _tiny_cfg(), sd, ["v1", "v2"], seed=1)
    assert [c.rebalance for c in cells] == ["v1", "v2"]
    assert cells[0].history == cells[1].history and cells[0].steps == cells[1].steps == 2
    assert cells[0].n_fit_rebalanced < len(sd.fit) < cells[1].n_fit_rebalanced  # under / over-sampling
    for c in cells:
        assert c.test_score.shape == (len(sd.test),) and c.val_score.shape == (len(sd.val),)
        assert c.projection.shape == (len(sd.test), 2) and "probe" in c.scored_by
        assert c.key == ("siamcl", "ohlcv+padic", c.rebalance, 1)
    # the encoder's diagnostics at its last step, shared by the probes of one encoder
    d = cells[0].diagnostics
    assert d == cells[1].diagnostics and d["step"] == 2 and d["n_probe"] == 512 and "history" not in d
    assert 0 <= d["alignment"] <= 4 and d["uniformity"] <= 0 and 1 <= d["effective_rank"] <= d["dim"]


def test_cell_diagnostics_round_trip_through_the_cell_store(splits, tmp_path):
    from tsssl.pipeline.cellstore import CellStore

    cell = pipeline.run_method("lstm", _tiny_cfg(), splits["ohlcv"], ["v1"], seed=0, project=False)[0]
    assert cell.diagnostics["alignment"] is None and cell.diagnostics["effective_rank"] > 1  # no views
    store = CellStore(tmp_path / "cells")
    store.save(cell)
    assert store.load("lstm", "ohlcv", "v1", 0).diagnostics == cell.diagnostics


def test_train_and_probe_writes_the_diagnostics_into_metrics_json(tmp_path):
    import json

    cfg = resolve_config(None, {**TINY, "max_steps": 3, "out": str(tmp_path / "run")})
    metrics = pipeline.train_and_probe(cfg)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())["diagnostics"]
    assert saved == metrics["diagnostics"]
    for key in ("alignment", "uniformity", "effective_rank", "collapsed", "dim", "step", "history"):
        assert key in saved, key
    assert saved["step"] == 3 and [e["step"] for e in saved["history"]] == [3]
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert header.endswith("diag_step,alignment,uniformity,effective_rank,collapsed")


def test_no_positive_in_validation_falls_back_to_a_stated_fixed_threshold():
    t, how = pipeline.choose_cell_threshold(np.zeros(50, dtype=int), np.linspace(0, 1, 50), "f1")
    assert t == 0.5 and "no positive window" in how
    with pytest.raises(ValueError, match="threshold rule"):
        pipeline.choose_cell_threshold(np.ones(3, dtype=int), np.ones(3), "best")


def test_pca_2d_matches_sklearn_on_standardised_data():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 3.0
    ours = pipeline.pca_2d(Z)
    Zs = (Z - Z.mean(0)) / Z.std(0)
    ref = PCA(n_components=2).fit_transform(Zs)
    for k in range(2):  # each axis is defined up to its sign
        sign = np.sign(ours[:, k] @ ref[:, k])
        np.testing.assert_allclose(ours[:, k], sign * ref[:, k], rtol=1e-4, atol=1e-4)
    assert pipeline.pca_2d(Z[:, :1]).shape == (300, 2)  # one dimension: zero-padded
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        pipeline.pca_2d(np.zeros(5))


def test_continuous_channels_leave_one_hot_digits_out():
    ws = data.build_windows(data.synthetic_market(1, 80, seed=0), features="ohlcv+padic")
    keep = pipeline.continuous_channels(ws.feature_names)
    assert keep is not None and all("digit" not in ws.feature_names[i] for i in keep)
    assert pipeline.continuous_channels(["a", "b"]) is None


def test_a_run_on_windows_held_as_views_gives_the_numbers_of_the_dense_run(tmp_path, monkeypatch):
    import importlib

    from tsssl.data.windowviews import WindowViews

    timing = ("windows_per_s", "train_seconds", "seconds")
    dense = pipeline.train_and_probe(resolve_config(None, {**TINY, "max_steps": 3, "out": str(tmp_path / "dense")}))
    monkeypatch.setattr(importlib.import_module("tsssl.data.windows"), "LAZY_AUTO_BYTES", 0)  # "auto" -> views

    def cfg():  # a fresh one each time: prepare_run_data records the resolved feature set in it
        return resolve_config(None, {**TINY, "max_steps": 3, "out": str(tmp_path / "views")})

    assert isinstance(pipeline.single.prepare_run_data(cfg()).train_balanced.X, WindowViews)
    views = pipeline.train_and_probe(cfg())
    assert {k: v for k, v in views.items() if k not in timing} == {k: v for k, v in dense.items() if k not in timing}
