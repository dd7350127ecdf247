"""TSSSLEncoder: the scikit-learn transformer around a tsssl method.

Tiny configurations (8-unit LSTM, 3 optimiser steps, batches of 32) keep every fit well under
a second on the CPU; the checks compare against direct computations (the encoder run by hand,
LogisticRegression fitted on the transformed windows, scikit-learn's balanced class weights).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import time

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


# -- checkpoint_dir: interrupted fits go on ------------------------------------------------------
def _checkpoint_step(folder) -> int:
    from tsssl.train import load_checkpoint

    return int(load_checkpoint(folder / "checkpoint.pt")["step"])


def _count_steps(monkeypatch) -> list[int]:
    """Steps the Trainer takes from now on (one entry per optimiser step, in any fit)."""
    from tsssl.train.trainer import Trainer

    taken: list[int] = []
    step_fn = Trainer._step_fn

    def counting(self, run):
        one_step = step_fn(self, run)

        def step(batch, k):
            taken.append(k)
            one_step(batch, k)

        return step

    monkeypatch.setattr(Trainer, "_step_fn", counting)
    return taken


def test_checkpoint_dir_without_it_nothing_is_written(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    est = tiny().fit(data[0])
    assert est.checkpoint_dir is None and list(tmp_path.iterdir()) == []


def test_a_finished_fit_in_checkpoint_dir_is_loaded_not_trained_again(fitted, data, tmp_path, monkeypatch):
    X, _ = data
    folder = tmp_path / "ckpt"
    first = tiny(checkpoint_dir=folder).fit(X)
    assert {"checkpoint.pt", "tsssl_encoder.json"} <= {p.name for p in folder.iterdir()}
    assert _checkpoint_step(folder) == 3
    np.testing.assert_array_equal(first.transform(X), fitted.transform(X))  # checkpoints change nothing
    saved = (folder / "checkpoint.pt").read_bytes()

    taken = _count_steps(monkeypatch)
    second = tiny(checkpoint_dir=folder).fit(X)
    assert taken == []  # loaded, not trained
    assert np.array_equal(second.transform(X), first.transform(X))
    assert second.n_steps_ == 3 and second.history_ == first.history_
    assert (folder / "checkpoint.pt").read_bytes() == saved


_INTERRUPTED_FIT = """
import sys, time
from pathlib import Path

import numpy as np
import torch

import tsssl.pipeline
from tsssl.sklearn import TSSSLEncoder

params, stall_at, threads = {params!r}, {stall_at!r}, {threads!r}
torch.set_num_threads(threads)
make_trainer = tsssl.pipeline.make_trainer


class Stall:
    # a few steps past the last checkpoint, say so and wait to be killed (so that the kill
    # lands at a known step, not at whatever step the machine's speed gives)
    def on_step_end(self, step):
        if step == stall_at:
            Path(sys.argv[2]).write_text(str(step))
            time.sleep(600)


tsssl.pipeline.make_trainer = lambda *a, **kw: make_trainer(*a, callbacks=[Stall()], **kw)
TSSSLEncoder(**params).fit(np.load(sys.argv[1]))
"""


def _fit_and_kill(tmp_path, X, params: dict, stall_at: int) -> None:
    """Fit with ``params`` in another process, SIGKILLed at step ``stall_at`` (not checkpointed)."""
    script, x_file, marker = tmp_path / "fit.py", tmp_path / "X.npy", tmp_path / "stalled"
    script.write_text(_INTERRUPTED_FIT.format(params=params, stall_at=stall_at, threads=torch.get_num_threads()))
    np.save(x_file, X)
    with open(tmp_path / "fit.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), str(x_file), str(marker)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), (tmp_path / "fit.log").read_text()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_a_killed_fit_resumed_equals_the_uninterrupted_fit(data, tmp_path, monkeypatch):
    X, _ = data
    folder = tmp_path / "ckpt"
    # 12 steps of 3 per epoch; checkpoints at 5 (mid-epoch) and 10; killed at step 7
    params = dict(encoder_kwargs={"hidden": HIDDEN}, epochs=None, max_steps=12, batch_size=32, device="cpu", seed=0)
    _fit_and_kill(tmp_path, X, {**params, "checkpoint_dir": str(folder), "checkpoint_every": 5}, stall_at=7)
    assert _checkpoint_step(folder) == 5

    taken = _count_steps(monkeypatch)
    resumed = TSSSLEncoder(**params, checkpoint_dir=folder, checkpoint_every=5).fit(X)
    assert taken == list(range(5, 12))  # steps 6..12 (0-based 5..11), not from the start
    whole = TSSSLEncoder(**params).fit(X)
    assert np.array_equal(resumed.transform(X), whole.transform(X))
    assert resumed.n_steps_ == whole.n_steps_ == 12
    assert [r["loss"] for r in resumed.history_] == [r["loss"] for r in whole.history_]


def test_an_interrupted_fit_in_this_process_goes_on(data, tmp_path, monkeypatch):
    X, _ = data
    from tsssl.train.trainer import Trainer

    folder = tmp_path / "ckpt"
    step_fn = Trainer._step_fn

    def interrupted(self, run):  # Ctrl-C at the 5th step, after the checkpoint at step 4
        one_step = step_fn(self, run)

        def step(batch, k):
            if k == 4:
                raise KeyboardInterrupt
            one_step(batch, k)

        return step

    monkeypatch.setattr(Trainer, "_step_fn", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tiny(max_steps=8, checkpoint_dir=folder, checkpoint_every=2).fit(X)
    monkeypatch.setattr(Trainer, "_step_fn", step_fn)
    assert _checkpoint_step(folder) == 4
    resumed = tiny(max_steps=8, checkpoint_dir=folder, checkpoint_every=2).fit(X)
    assert np.array_equal(resumed.transform(X), tiny(max_steps=8).fit(X).transform(X))


@pytest.mark.parametrize(
    "change, named",
    [
        ({"lr": 1e-2}, r"lr: None in the checkpoint, 0\.01 now"),
        ({"encoder_kwargs": {"hidden": 4}}, r"encoder_kwargs: \{'hidden': 8\} in the checkpoint, \{'hidden': 4\} now"),
        ({"method": "simclr", "seed": 1}, r"method: 'siamcl' .* 'simclr' now; seed: 0 in the checkpoint, 1 now"),
    ],
)
def test_checkpoint_dir_of_another_fit_is_refused(data, tmp_path, change, named):
    X, _ = data
    tiny(checkpoint_dir=tmp_path).fit(X)
    with pytest.raises(ValueError, match=named) as err:
        tiny(checkpoint_dir=tmp_path, **change).fit(X)
    assert "\n" not in str(err.value)
    assert "use another checkpoint_dir, or delete the folder" in str(err.value)


def test_checkpoint_dir_of_other_data_is_refused(data, tmp_path):
    X, _ = data
    tiny(checkpoint_dir=tmp_path).fit(X)
    with pytest.raises(ValueError, match=r"another fit: X values \(sha256 [0-9a-f]{12}\.\.\. in the checkpoint"):
        tiny(checkpoint_dir=tmp_path).fit(X + 1.0)
    with pytest.raises(ValueError, match=r"X_shape: \[96, 10, 3\] in the checkpoint, \[95, 10, 3\] now; use"):
        tiny(checkpoint_dir=tmp_path).fit(X[:-1])


def test_checkpoint_dir_labels_count_only_for_supervised_methods(data, tmp_path):
    X, y = data
    tiny(checkpoint_dir=tmp_path / "ssl").fit(X, y)
    tiny(checkpoint_dir=tmp_path / "ssl").fit(X)  # y is not used, so not part of the fit
    tiny(method="lstm", checkpoint_dir=tmp_path / "sup").fit(X, y)
    with pytest.raises(ValueError, match=r"another fit: y values \(sha256"):
        tiny(method="lstm", checkpoint_dir=tmp_path / "sup").fit(X, 1 - y)


def test_checkpoint_dir_with_a_foreign_checkpoint_is_refused(data, tmp_path):
    X, _ = data
    torch.save({"step": 3}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="without a readable tsssl_encoder.json"):
        tiny(checkpoint_dir=tmp_path).fit(X)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        tiny(checkpoint_dir=tmp_path / "checkpoint.pt").fit(X)


def test_a_stamp_without_a_checkpoint_starts_afresh(fitted, data, tmp_path):
    X, _ = data
    tiny(checkpoint_dir=tmp_path, lr=1.0, max_steps=1, checkpoint_every=None).fit(X)
    (tmp_path / "checkpoint.pt").unlink()  # as if killed before its first checkpoint
    est = tiny(checkpoint_dir=tmp_path).fit(X)
    assert np.array_equal(est.transform(X), fitted.transform(X))


def test_checkpoint_params_clone_get_params_and_pickle(data, tmp_path):
    X, _ = data
    est = tiny(checkpoint_dir=tmp_path, checkpoint_every=2)
    params = est.get_params()
    assert params["checkpoint_dir"] == tmp_path and params["checkpoint_every"] == 2
    assert TSSSLEncoder().get_params()["checkpoint_dir"] is None
    assert TSSSLEncoder().get_params()["checkpoint_every"] == 100
    twin = clone(est)
    assert twin.get_params() == params
    assert pickle.loads(pickle.dumps(est)).get_params() == params
    est.fit(X)
    back = pickle.loads(pickle.dumps(est))
    assert back.get_params() == params
    np.testing.assert_array_equal(back.transform(X), est.transform(X))
    again = clone(est).fit(X)  # a clone of a fitted estimator: same dir, same fit -> loaded
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


# -- optimiser settings ---------------------------------------------------------------------------
def test_optimiser_settings_reach_the_trainer(data, monkeypatch):
    X, _ = data
    seen = []
    real_init = tsssl.train.Trainer.__init__

    def spy(self, *args, **kwargs):
        seen.append({k: kwargs.get(k) for k in ("grad_clip", "warmup_frac", "min_lr_ratio", "weight_decay")})
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(tsssl.train.Trainer, "__init__", spy)
    tiny(max_steps=6).fit(X)
    tiny(max_steps=6, grad_clip=None, warmup_frac=0.0, min_lr_ratio=1.0, weight_decay=0.01).fit(X)
    assert seen == [
        {"grad_clip": 1.0, "warmup_frac": 0.05, "min_lr_ratio": 0.0, "weight_decay": 1e-4},
        {"grad_clip": None, "warmup_frac": 0.0, "min_lr_ratio": 1.0, "weight_decay": 0.01},
    ]


def test_a_constant_learning_rate_and_the_default_schedule(data):
    X, _ = data
    constant = tiny(max_steps=8, lr=1e-3, warmup_frac=0.0, min_lr_ratio=1.0).fit(X)
    assert [row["lr"] for row in constant.history_] == [1e-3] * len(constant.history_)
    decayed = tiny(max_steps=8, lr=1e-3).fit(X)  # warm-up then a half cosine to 0
    assert decayed.history_[-1]["lr"] < 1e-3 / 10
    # a different optimiser, different weights (the rest of the fit the same)
    assert not np.array_equal(constant.transform(X), tiny(max_steps=8, lr=1e-3).fit(X).transform(X))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"grad_clip": -1.0}, "grad_clip must be a number > 0"),
        ({"warmup_frac": 1.0}, "warmup_frac"),
        ({"min_lr_ratio": 2.0}, "min_lr_ratio"),
    ],
)
def test_bad_optimiser_settings_are_one_line_errors(data, bad, match):
    with pytest.raises(ValueError, match=match) as err:
        tiny(**bad).fit(data[0])
    assert "\n" not in str(err.value)


def test_checkpoint_dir_names_a_changed_optimiser_setting(data, tmp_path):
    X, _ = data
    tiny(checkpoint_dir=tmp_path).fit(X)
    with pytest.raises(ValueError, match=r"grad_clip: 1\.0 in the checkpoint, None now"):
        tiny(checkpoint_dir=tmp_path, grad_clip=None).fit(X)


def test_files_from_before_the_optimiser_settings_take_their_defaults(fitted, data, tmp_path):
    X, _ = data
    new = ("grad_clip", "warmup_frac", "min_lr_ratio")
    # a checkpoint_dir stamped without them: that fit ran at the defaults, so it is this one
    folder = tmp_path / "ckpt"
    tiny(checkpoint_dir=folder).fit(X)
    stamp = json.loads((folder / "tsssl_encoder.json").read_text())
    for key in new:
        del stamp["params"][key]
    (folder / "tsssl_encoder.json").write_text(json.dumps(stamp))
    np.testing.assert_array_equal(tiny(checkpoint_dir=folder).fit(X).transform(X), fitted.transform(X))
    with pytest.raises(ValueError, match=r"grad_clip: 1\.0 in the checkpoint, 2\.0 now"):
        tiny(checkpoint_dir=folder, grad_clip=2.0).fit(X)
    # a saved file and a pickle without them load with the defaults
    path = fitted.save(tmp_path / "enc.pt")
    blob = torch.load(path, weights_only=False)
    for key in new:
        del blob["state"][key]
    torch.save(blob, path)
    back = TSSSLEncoder.load(path)
    assert back.get_params() == fitted.get_params()
    np.testing.assert_array_equal(back.transform(X), fitted.transform(X))
    state = fitted.__getstate__()
    for key in new:
        del state[key]
    unpickled = TSSSLEncoder.__new__(TSSSLEncoder)
    unpickled.__setstate__(state)
    assert unpickled.get_params() == fitted.get_params()


@pytest.mark.parametrize(
    "method, lr", [("tstcc", 3e-4), ("tloss", 1e-3), ("tnc", 1e-3), ("hierarchical", 1e-3), ("siamcl", 3e-3)]
)
def test_learning_rate_left_open_is_the_methods_own(method, lr):
    # TS-TCC's and T-Loss's papers train at 3e-4 and 1e-3, TS2Vec at 1e-3 (TNC: T-Loss's); the others at 3e-3
    X = np.random.default_rng(0).normal(size=(16, 40, 1)).astype(np.float32)
    est = TSSSLEncoder(method=method, max_steps=2, batch_size=8, device="cpu", seed=0).fit(X)
    assert max(row["lr"] for row in est.history_) == pytest.approx(lr)
    given = TSSSLEncoder(method=method, max_steps=2, batch_size=8, lr=5e-3, device="cpu", seed=0).fit(X)
    assert max(row["lr"] for row in given.history_) == pytest.approx(5e-3)


def test_budget_left_open_is_chosen_from_the_data_and_said(data, capsys):
    X, _ = data  # 96 windows: batch 8 (power of two <= 96/8 = 12), 200 steps
    est = TSSSLEncoder(encoder_kwargs={"hidden": HIDDEN}, device="cpu", seed=0, progress=True).fit(X)
    assert (est.budget_["batch_size"], est.budget_["max_steps"], est.budget_["epochs"]) == (8, 200, None)
    assert est.budget_["chosen"] == ("batch_size", "max_steps") and est.n_steps_ == 200
    assert "200 steps at batch 8 (chosen from the data" in capsys.readouterr().err
    given = tiny(max_steps=4, batch_size=1000).fit(X)  # given values are kept, the batch capped at N
    assert (given.budget_["batch_size"], given.n_steps_, given.budget_["chosen"]) == (len(X), 4, ())


def test_hierarchical_budget_takes_ts2vecs_batch_of_8():
    # 256 series: the rule gives 32 (256 / 8), the hierarchical method's cap 8 (TS2Vec's batch)
    X = np.random.default_rng(0).normal(size=(256, 12, 1)).astype(np.float32)
    small = {"hidden": 8, "out_dim": 16}
    est = TSSSLEncoder(method="hierarchical", max_steps=2, encoder_kwargs=small, device="cpu", seed=0).fit(X)
    assert est.budget_["batch_size"] == 8 and "at most 8 for this method" in est.budget_["rule"]
    siamcl = TSSSLEncoder(max_steps=2, encoder_kwargs={"hidden": HIDDEN}, device="cpu", seed=0).fit(X)
    assert siamcl.budget_["batch_size"] == 32 and "at most" not in siamcl.budget_["rule"]
    given = TSSSLEncoder(method="hierarchical", max_steps=2, batch_size=64, encoder_kwargs=small, device="cpu").fit(X)
    assert given.budget_["batch_size"] == 64  # a batch given is kept above the cap


def _padded(n=24, T=30, C=2, seed=0):
    """(n, T, C) series of lengths 10..T, NaN-padded at the end, and their lengths."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, C)).astype(np.float32)
    lengths = rng.integers(10, T + 1, size=n)
    X[np.arange(T)[None, :] >= lengths[:, None]] = np.nan
    return X, lengths


def test_nan_padded_series_of_several_lengths_are_masked_by_the_hierarchical_method():
    X, lengths = _padded()
    small = {"hidden": 8, "out_dim": 16}
    est = TSSSLEncoder(method="hierarchical", max_steps=3, encoder_kwargs=small, device="cpu").fit(X)
    assert est.accepts_missing_ and np.isfinite(est.transform(X)).all()
    # a series' representation does not depend on how much padding follows it
    i = int(np.argmin(lengths))
    longer = np.full((1, 40, 2), np.nan, dtype=np.float32)
    longer[0, : lengths[i]] = X[i, : lengths[i]]
    embed_40 = est.encoder_(torch.from_numpy(longer)).detach().numpy()
    np.testing.assert_allclose(embed_40[0], est.transform(X[i : i + 1])[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda X: np.concatenate([X, np.full((1, 30, 2), np.nan, np.float32)]), "no observed value (all NaN)"),
        (lambda X: np.where(np.isnan(X), 0.0, X).astype(np.float32) * np.r_[np.nan, 1.0].astype(np.float32),
         "NaN in some channels but not all"),
    ],
)  # fmt: skip
def test_missing_values_the_mask_cannot_take_are_one_line_errors(make, fragment):
    X, _ = _padded()
    with pytest.raises(ValueError, match=re.escape(fragment)):
        TSSSLEncoder(method="hierarchical", max_steps=1, encoder_kwargs={"hidden": 8, "out_dim": 16}).fit(make(X))


def test_nan_padding_for_a_method_without_masks_names_the_one_that_has_them():
    X, _ = _padded()
    with pytest.raises(ValueError, match="method='hierarchical'"):
        tiny().fit(X)


def test_degenerate_series_length_one_and_all_constant():
    rng = np.random.default_rng(0)
    small = {"hidden": 8, "out_dim": 16}
    with pytest.raises(ValueError, match="shorter than the overlap"):  # crops need two steps
        TSSSLEncoder(method="hierarchical", max_steps=1, encoder_kwargs=small).fit(rng.normal(size=(8, 1, 1)))
    flat = np.ones((8, 30, 1), dtype=np.float32)  # fallback: std 0 channels are left unscaled, not NaN
    Z = TSSSLEncoder(method="hierarchical", max_steps=2, encoder_kwargs=small).fit(flat).transform(flat)
    assert np.isfinite(Z).all()
