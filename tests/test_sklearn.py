"""TSSSLEncoder: the scikit-learn transformer around a tsssl method.

Tiny configurations (8-unit LSTM, 3 optimiser steps, batches of 32) keep every fit well under
a second on the CPU; the checks compare against direct computations (the encoder run by hand,
LogisticRegression fitted on the transformed windows, scikit-learn's balanced class weights).
"""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import estimator_checks
from sklearn.utils.class_weight import compute_class_weight

import tsssl
from tsssl.sklearn import TSSSLEncoder

N, T, C, HIDDEN = 96, 10, 3, 8


def tiny(**kwargs) -> TSSSLEncoder:
    """An encoder that fits in a fraction of a second: 8 LSTM units, 3 steps of 32 windows."""
    opts = dict(encoder_kwargs={"hidden": HIDDEN}, epochs=None, max_steps=3, batch_size=32, device="cpu", seed=0)
    opts.update(kwargs)
    return TSSSLEncoder(**opts)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """X (N, T, C) float32 with channels of different scales (so standardisation matters),
    y (N,) 0/1 depending on the windows (so a probe has something to find)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, T, C)).astype(np.float32) * np.array([0.01, 1.0, 5.0], dtype=np.float32)
    X[..., 1] += 3.0
    y = (X[:, -3:, 0].sum(axis=1) > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def fitted(data) -> TSSSLEncoder:
    return tiny().fit(data[0])


@pytest.fixture(scope="module")
def windows():
    prices = tsssl.data.synthetic_market(n_tickers=2, n_days=120, seed=3)
    return tsssl.data.build_windows(prices, window=T, horizon=3)


# -- fit / transform ---------------------------------------------------------------------------
def test_fit_returns_self_and_sets_fitted_attributes(data):
    X, _ = data
    est = tiny()
    assert est.fit(X) is est
    assert (est.n_features_in_, est.in_channels_, est.window_length_, est.out_dim_) == (C, C, T, HIDDEN)
    assert est.feature_names_ is None
    assert est.n_steps_ == 3
    steps, losses = est.loss_curve_
    assert steps.tolist() == [1, 2, 3]  # 3 steps -> a log row each
    assert np.isfinite(losses).all()
    assert est.device_ == "cpu"


def test_transform_is_the_frozen_encoder_on_standardised_windows(fitted, data):
    X, _ = data
    Z = fitted.transform(X)
    assert Z.shape == (N, HIDDEN) and Z.dtype == np.float32
    # by hand: standardise with the training windows' per-channel mean / std, run the LSTM
    mean = X.reshape(-1, C).astype(np.float64).mean(axis=0)
    std = X.reshape(-1, C).astype(np.float64).std(axis=0)
    inner = fitted.encoder_.encoder  # StandardizedEncoder -> the LSTM itself
    with torch.no_grad():
        ref = inner.eval()(torch.from_numpy(((X - mean) / std).astype(np.float32))).numpy()
    np.testing.assert_allclose(Z, ref, rtol=1e-5, atol=1e-6)
    # training windows' statistics, not the transformed batch's: a shifted batch maps differently
    assert not np.allclose(fitted.transform(X + 1.0), Z, atol=1e-3)


def test_transform_in_small_batches_matches_one_batch(fitted, data):
    X, _ = data
    small = copy.deepcopy(fitted).set_params(transform_batch_size=7)
    np.testing.assert_allclose(small.transform(X), fitted.transform(X), rtol=1e-5, atol=1e-6)


def test_fit_transform_equals_fit_then_transform(data):
    X, _ = data
    np.testing.assert_array_equal(tiny().fit_transform(X), tiny().fit(X).transform(X))


def test_feature_names_out(fitted):
    names = fitted.get_feature_names_out()
    assert names.tolist() == [f"tssslencoder{i}" for i in range(HIDDEN)]


def test_fit_and_transform_on_a_windowset(windows):
    est = tiny().fit(windows)
    assert est.feature_names_ == list(windows.feature_names)
    assert est.in_channels_ == windows.X.shape[2]
    np.testing.assert_array_equal(est.transform(windows), est.transform(windows.X))
    # the same windows as a plain array train the same model (WindowSet adds names, not data)
    np.testing.assert_array_equal(tiny().fit(windows.X).transform(windows.X), est.transform(windows.X))


def test_windowset_with_other_features_is_refused(windows):
    est = tiny().fit(windows)
    renamed = copy.copy(windows)
    renamed.feature_names = [f"other_{n}" for n in windows.feature_names]
    with pytest.raises(ValueError, match="features"):
        est.transform(renamed)


def test_lstm_takes_labels_from_a_windowset(windows):
    assert 0 < windows.y.sum() < len(windows.y)
    a = tiny(method="lstm").fit(windows)
    b = tiny(method="lstm").fit(windows.X, windows.y)
    np.testing.assert_array_equal(a.transform(windows.X), b.transform(windows.X))


def test_lstm_balanced_class_weight_is_sklearns(data):
    X, y = data
    y = y.copy()
    y[: N // 2] = 0  # make the classes unequal
    est = tiny(method="lstm", method_kwargs={"class_weight": "balanced"}).fit(X, y)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    np.testing.assert_allclose(est.method_.class_weight.numpy(), expected, rtol=1e-6)
    assert est.get_params()["method_kwargs"] == {"class_weight": "balanced"}  # the parameter is untouched


# -- parameters, clone, pipeline -----------------------------------------------------------------
def test_get_params_and_set_params():
    est = tiny()
    params = est.get_params()
    assert params["method"] == "siamcl" and params["max_steps"] == 3 and params["encoder_kwargs"] == {"hidden": HIDDEN}
    assert est.set_params(method="simclr", max_steps=5) is est
    assert (est.method, est.max_steps) == ("simclr", 5)
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(no_such_parameter=1)


def test_clone_is_unfitted_with_equal_params_and_refits_identically(fitted, data):
    X, _ = data
    twin = clone(fitted)
    assert twin is not fitted and twin.get_params() == fitted.get_params()
    assert not hasattr(twin, "method_")
    np.testing.assert_array_equal(twin.fit(X).transform(X), fitted.transform(X))


def test_pipeline_with_logistic_regression_matches_separate_steps(data):
    X, y = data
    pipe = make_pipeline(tiny(), LogisticRegression(max_iter=1000))
    assert isinstance(pipe, Pipeline)
    proba = pipe.fit(X, y).predict_proba(X)
    assert proba.shape == (N, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the same thing by hand: fit the encoder, fit the classifier on its output
    Z = tiny().fit(X).transform(X)
    ref = LogisticRegression(max_iter=1000).fit(Z, y).predict_proba(Z)
    np.testing.assert_allclose(proba, ref, rtol=1e-6, atol=1e-8)
    assert pipe.predict(X).shape == (N,)


def test_pipeline_passes_labels_to_the_lstm_baseline(data):
    X, y = data
    pipe = make_pipeline(tiny(method="lstm"), LogisticRegression(max_iter=1000)).fit(X, y)
    assert pipe.predict_proba(X).shape == (N, 2)
    assert pipe[0].n_steps_ == 3


# -- persistence ------------------------------------------------------------------------------
def test_pickle_round_trip_gives_the_same_transform(fitted, data):
    X, _ = data
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.transform(X), fitted.transform(X))
    assert back.get_params() == fitted.get_params()
    assert back.history_ == fitted.history_ and back.out_dim_ == fitted.out_dim_
    # a copy, not shared weights: changing the copy leaves the original alone
    with torch.no_grad():
        for p in back.method_.parameters():
            p.add_(1.0)
    assert not np.array_equal(back.transform(X), fitted.transform(X))


def test_pickle_of_an_unfitted_estimator(data):
    back = pickle.loads(pickle.dumps(tiny()))
    assert not hasattr(back, "method_")
    assert back.fit(data[0]).transform(data[0]).shape == (N, HIDDEN)


def test_save_load_gives_the_same_transform(fitted, data, tmp_path):
    X, _ = data
    path = fitted.save(tmp_path / "sub" / "enc.pt")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["enc.pt"]  # no temp file left behind
    back = TSSSLEncoder.load(path)
    np.testing.assert_array_equal(back.transform(X), fitted.transform(X))
    assert back.get_params() == fitted.get_params() and back.n_steps_ == fitted.n_steps_


def test_load_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="no saved TSSSLEncoder"):
        TSSSLEncoder.load(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a file written by TSSSLEncoder.save"):
        TSSSLEncoder.load(tmp_path / "other.pt")


# -- seeds --------------------------------------------------------------------------------------
def test_same_seed_same_transform_other_seed_other_transform(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(tiny(seed=0).fit(X).transform(X), fitted.transform(X))
    assert not np.allclose(tiny(seed=1).fit(X).transform(X), fitted.transform(X))


def test_fit_leaves_the_global_random_states_alone(data):
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    tiny().fit(data[0])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


# -- errors -------------------------------------------------------------------------------------
def test_not_fitted(tmp_path, data):
    est = tiny()
    with pytest.raises(NotFittedError):
        est.transform(data[0])
    with pytest.raises(NotFittedError):
        est.save(tmp_path / "enc.pt")
    with pytest.raises(NotFittedError):
        _ = est.loss_curve_


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((N, T)), r"\(N, T, C\).*one window\? use X\[None\]"),
        (np.zeros((2, N, T, C)), r"\(N, T, C\)"),
        (np.zeros((0, T, C)), "empty"),
        (np.full((N, T, C), "a"), "real numbers"),
    ],
)
def test_fit_refuses_arrays_that_are_not_windows(bad, match):
    with pytest.raises(ValueError, match=match):
        tiny().fit(bad)


def test_nan_and_inf_are_refused_with_their_windows(data, fitted):
    X = data[0].copy()
    X[4, 2, 1] = np.nan
    X[9, 0, 0] = np.inf
    for call in (tiny().fit, fitted.transform):
        with pytest.raises(ValueError, match=r"2 NaN/inf values in 2 window\(s\), first at index \[4, 9\]"):
            call(X)


def test_transform_refuses_other_channel_counts_and_window_lengths(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match=f"2 channels per day but this encoder was fitted on {C}"):
        fitted.transform(X[:, :, :2])
    with pytest.raises(ValueError, match=f"windows of 5 days .* fitted on {T}-day windows"):
        fitted.transform(X[:, :5])


def test_unknown_method_and_too_few_windows(data):
    X, _ = data
    with pytest.raises(ValueError, match="unknown method 'nope'; accepted: siamcl"):
        tiny(method="nope").fit(X)
    with pytest.raises(ValueError, match="at least 2"):
        tiny().fit(X[:1])


def test_lstm_needs_labels_of_both_classes(data):
    X, y = data
    with pytest.raises(ValueError, match="pass y"):
        tiny(method="lstm").fit(X)
    with pytest.raises(ValueError, match=r"shape \(96,\)"):
        tiny(method="lstm").fit(X, y[:10])
    with pytest.raises(ValueError, match="only the class 0"):
        tiny(method="lstm").fit(X, np.zeros(N, dtype=int))
    with pytest.raises(ValueError, match=r"labels 0 and 1, found \[2\]"):
        tiny(method="lstm").fit(X, np.where(y == 1, 2, 0))


def test_self_supervised_methods_ignore_y(fitted, data):
    X, y = data
    np.testing.assert_array_equal(tiny().fit(X, y).transform(X), fitted.transform(X))


# -- scikit-learn's own checks, where they apply -----------------------------------------------
# Most of check_estimator feeds 2-D tables; a window encoder takes (N, T, C), so only the
# checks that need no data (the constructor, parameters, cloning, tags) and the unfitted-state
# check are meaningful here.
@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
        estimator_checks.check_mixin_order,
        estimator_checks.check_valid_tag_types,
        estimator_checks.check_estimator_tags_renamed,
        estimator_checks.check_transformers_unfitted,
    ],
    ids=lambda f: f.__name__,
)
def test_sklearn_checks_that_apply(check):
    check("TSSSLEncoder", tiny())


def test_tags_say_three_d_input_and_labels_for_the_lstm():
    tags = tiny().__sklearn_tags__()
    assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array
    assert not tags.target_tags.required
    assert tiny(method="lstm").__sklearn_tags__().target_tags.required


def test_public_name():
    assert tsssl.TSSSLEncoder is TSSSLEncoder
