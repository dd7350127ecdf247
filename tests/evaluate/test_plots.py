"""Figures of the report: every one is a decodable PNG with something drawn on it; the PR curve
is scikit-learn's."""

import base64
import io

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import precision_recall_curve

from tsssl.evaluate import plots


def _image(b64: str) -> np.ndarray:
    raw = base64.b64decode(b64, validate=True)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(raw))
    img.load()
    arr = np.asarray(img.convert("L"), dtype=float)
    assert arr.shape[0] > 100 and arr.shape[1] > 100
    return arr


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    return y, 0.5 * y + rng.random(n), rng.random(n)


def test_pr_curve_is_sklearns():
    y, good, _ = _data()
    recall, precision = plots.pr_curve(y, good)
    p_ref, r_ref, _ = precision_recall_curve(y, good)
    # sklearn lists thresholds from low to high and appends the (recall 0, precision 1) end point
    np.testing.assert_allclose(recall, r_ref[:-1][::-1])
    np.testing.assert_allclose(precision, p_ref[:-1][::-1])


def test_pr_curves_figure_draws_one_panel_per_method():
    y, good, noise = _data()
    one = _image(plots.pr_curves_figure(y, {"LSTM": {"original V1": good}}))
    two = _image(
        plots.pr_curves_figure(
            y, {"LSTM": {"original V1": good, "original V2": noise}, "SiamCL": {"original V1": noise}}
        )
    )
    assert two.shape[1] > one.shape[1]  # a second panel beside the first
    assert two.std() > 0
    # no positive test window: a message instead of a curve, still an image
    _image(plots.pr_curves_figure(np.zeros(10, dtype=int), {"LSTM": {"a": np.arange(10.0)}}))


def test_precision_ci_figure_handles_undefined_cells():
    records = [
        {
            "method": "lstm",
            "features": "ohlcv",
            "rebalance": "v1",
            "precision": 0.05,
            "precision_ci_low": 0.03,
            "precision_ci_high": 0.08,
            "balanced_precision": 0.55,
            "base_rate": 0.04,
        },
        {
            "method": "siamcl",
            "features": "ohlcv",
            "rebalance": "v1",
            "precision": None,
            "precision_ci_low": None,
            "precision_ci_high": None,
            "balanced_precision": None,
            "base_rate": 0.04,
        },
        {
            "method": "siamcl",
            "features": "ohlcv+padic",
            "rebalance": "v2",
            "precision": 0.06,
            "precision_ci_low": 0.02,
            "precision_ci_high": 0.1,
            "balanced_precision": 0.6,
            "base_rate": 0.04,
        },
    ]
    img = _image(plots.precision_ci_figure(records, {"lstm": "LSTM"}, {"ohlcv": "original"}))
    assert img.std() > 0
    assert _image(plots.precision_ci_figure([])).std() > 0  # "no cells"


def test_projection_figure_and_loss_curves():
    y, _, _ = _data(n=500)
    rng = np.random.default_rng(1)
    proj = {"SiamCL · original": rng.normal(size=(500, 2)), "LSTM · original V1": rng.normal(size=(500, 2))}
    assert _image(plots.projection_figure(y, proj, max_points=100)).std() > 0
    hist = [{"step": s, "loss": 1.0 / s} for s in range(1, 20)]
    assert (
        _image(plots.loss_curves_figure({"SiamCL · original": hist, "LSTM · original V1": hist[:2], "empty": []})).std()
        > 0
    )
    for empty in (plots.projection_figure(y, {}), plots.loss_curves_figure({"x": []})):
        assert _image(empty).std() > 0


def test_figures_leave_pyplot_alone():
    pyplot = pytest.importorskip("matplotlib.pyplot")
    before = pyplot.get_fignums()
    y, good, _ = _data()
    plots.pr_curves_figure(y, {"m": {"c": good}})
    assert pyplot.get_fignums() == before
