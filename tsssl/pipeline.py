"""The reusable pipeline behind ``tsssl train`` and ``tsssl report``: one cell of the comparison.

    prices = load_configured_prices(cfg)
    splits = prepare_splits(prices, features=("ohlcv", "ohlcv+padic"), window=20, horizon=5)
    cells = run_method("siamcl", cfg, splits["ohlcv"], rebalances=("v1", "v2", "v3"), seed=0)

Data. Windows are built once per feature set; every feature set is split at the same first test
date (resolved once, on the first feature set's windows) and :func:`check_same_split` verifies
that the training, validation and test windows are the same (ticker, end date) rows in every
feature set, so that the cells of a report differ only in what they claim to differ in.

Validation slice. The threshold that turns a score into a call is chosen on the chronological
tail of the training period (``tsssl.evaluate.validation_slice``: the last ``val_frac`` of the
training end dates, purged by the horizon like the test split), never on test. The models are
fitted on the windows before it (the *fit* windows), so the validation scores are
out-of-sample, at the natural base rate the test set will have.

One cell = (method, features, rebalance, seed):

- ``lstm`` (the supervised baseline) trains on the fit windows rebalanced with ``rebalance``
  (``none``: balanced class weights instead) and scores with its own classifier head;
- a self-supervised method trains its encoder once per (features, seed) on every fit window
  (labels unused, so rebalancing cannot change it), then, per rebalance, a class-balanced probe
  (``cfg.probe``) is fitted on the frozen representations of the rebalanced fit windows.

Both then score the validation and test windows; the threshold comes from the validation scores
(``threshold_rule``), and the test scores, threshold and the training history are returned as a
:class:`CellResult` (plus a 2-D PCA projection of the test representations for the plots).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from tsssl.atomic import finite_or_none
from tsssl.config import RunConfig

#: threshold rules accepted by :func:`choose_cell_threshold` (those of ``evaluate.choose_threshold``)
THRESHOLD_RULES = ("f1", "precision_at_recall", "top_frac", "fixed")


# -- data ------------------------------------------------------------------------------------
def load_configured_prices(cfg: RunConfig):
    """The price frame the configuration names, cut to start..end (ValueError when empty)."""
    import pandas as pd

    from tsssl import data

    if cfg.source == "tickers":
        prices = data.load_prices(cfg.tickers, cfg.start, cfg.end, cache_dir=cfg.cache_dir)
    elif cfg.source == "file":
        try:
            prices = data.read_prices(cfg.data)
        except OSError as err:  # missing / unreadable file: a message, not a traceback
            raise ValueError(f"cannot read --data {cfg.data}: {err.strerror or err}") from None
    else:
        prices = data.load_sample()
    if cfg.start or cfg.end:
        dates = pd.to_datetime(prices["date"])
        keep = pd.Series(True, index=prices.index)
        if cfg.start:
            keep &= dates >= pd.Timestamp(cfg.start)
        if cfg.end:
            keep &= dates <= pd.Timestamp(cfg.end)
        if not keep.any():
            span = f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}" if len(dates) else "no dates"
            raise ValueError(
                f"no prices between start={cfg.start or '-'} and end={cfg.end or '-'}; "
                f"the data covers {span}"
            )
        prices = prices[keep.to_numpy()].reset_index(drop=True)
    return prices


def continuous_channels(feature_names: list[str]) -> list[int] | None:
    """Channels that augmentation may perturb: all but one-hot (p-adic digit) channels."""
    keep = [i for i, n in enumerate(feature_names) if "digit" not in n and "onehot" not in n]
    return None if len(keep) == len(feature_names) else keep


def _day(value: Any) -> str:
    return str(np.datetime_as_string(np.asarray(value, dtype="datetime64[D]")))


@dataclass
class SplitData:
    """The windows of one feature set and how they were cut.

    windows: every labelled window; split: ``.train`` (purged) / ``.test``; fit: the training
    windows before the validation slice (purged); val: the validation slice (the tail of the
    training period); val_split: the Split that cut fit / val.
    """

    features: str
    windows: Any
    split: Any
    fit: Any
    val: Any
    val_split: Any

    @property
    def test(self):
        return self.split.test

    def describe(self) -> dict[str, Any]:
        """JSON-ready dates and sizes of the split (train / fit / validation / test)."""
        s, v = self.split, self.val_split
        return {
            "features": self.features,
            "n_windows": len(self.windows),
            "train_start": _day(s.train.end_date.min()), "train_end": _day(s.train_end),
            "fit_end": _day(v.train_end),
            "val_start": _day(v.test.end_date.min()), "val_end": _day(v.test_end),
            "test_start": _day(s.test.end_date.min()), "test_end": _day(s.test_end),
            "purge": s.purge, "embargo": s.embargo,
            "n_purged": s.n_purged, "n_purged_before_val": v.n_purged,
            "n_train": len(s.train), "n_fit": len(self.fit), "n_val": len(self.val),
            "n_val_pos": int(self.val.n_positive), "n_test": len(s.test),
            "n_test_pos": int(s.test.n_positive),
        }


def _rows_key(ws) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(ws.end_date), np.asarray(ws.ticker).astype(str)


def check_same_split(splits: dict[str, SplitData]) -> dict[str, Any]:
    """Verify that every feature set has the same fit, validation and test rows (ticker, end date,
    label) and the same split dates; returns the shared :meth:`SplitData.describe` (without the
    ``features`` key). ValueError naming the feature set and the part that differs."""
    items = list(splits.items())
    if not items:
        raise ValueError("no feature set to compare")
    ref_name, ref = items[0]
    ref_desc = {k: v for k, v in ref.describe().items() if k != "features"}
    for name, sd in items[1:]:
        for part in ("fit", "val", "test"):
            a, b = getattr(ref, part), getattr(sd, part)
            (da, ta), (db, tb) = _rows_key(a), _rows_key(b)
            if len(a) != len(b) or not (np.array_equal(da, db) and np.array_equal(ta, tb)
                                        and np.array_equal(a.y, b.y)):
                raise ValueError(
                    f"features {name!r} and {ref_name!r} differ in their {part} windows "
                    f"({len(b)} vs {len(a)} rows): the cells would not be comparable")
        desc = {k: v for k, v in sd.describe().items() if k != "features"}
        if desc != ref_desc:
            diff = sorted(k for k in desc if desc[k] != ref_desc.get(k))
            raise ValueError(f"features {name!r} and {ref_name!r} have different split dates: {diff}")
    return ref_desc


def prepare_splits(prices, features: Sequence[str] = ("ohlcv", "ohlcv+padic"), window: int = 20,
                   horizon: int = 5, test_start: Any = None, test_frac: float = 0.2, embargo: int = 0,
                   val_frac: float = 0.2) -> dict[str, SplitData]:
    """Windows per feature set, all split at the same dates; checked with :func:`check_same_split`.

    The first test date is ``test_start`` or, when None, the first of the last ``test_frac`` of
    the first feature set's window end dates; the validation slice is the last ``val_frac`` of
    the training end dates. Both are purged by ``horizon`` trading days plus ``embargo``.
    """
    import pandas as pd

    from tsssl import data
    from tsssl.evaluate import validation_slice

    features = list(dict.fromkeys(features))
    if not features:
        raise ValueError("features: give at least one feature set (ohlcv, ohlcv+padic)")
    if not 0.0 < val_frac < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), e.g. 0.2, got {val_frac}")
    out: dict[str, SplitData] = {}
    start = test_start
    for f in features:
        ws = data.build_windows(prices, window=window, horizon=horizon, features=f)
        split = data.chronological_split(ws, test_start=start, test_frac=test_frac, embargo=embargo)
        start = pd.Timestamp(split.test_start)  # every later feature set: the same first test day
        if len(split.train) < 2:
            raise ValueError(f"the split left {len(split.train)} training windows; use more dates "
                             "or a later --test-start")
        val_split = validation_slice(split.train, frac=val_frac, embargo=embargo)
        out[f] = SplitData(features=f, windows=ws, split=split, fit=val_split.train,
                           val=val_split.test, val_split=val_split)
    check_same_split(out)
    return out


# -- one cell --------------------------------------------------------------------------------
@dataclass
class CellResult:
    """What one (method, features, rebalance, seed) cell produced.

    test_score / val_score: (N,) float64 confidence of a rise; threshold: the decision threshold
    (``score >= threshold`` is a call), chosen on the validation scores as
    ``threshold_description`` says; history: the Trainer's log rows; projection: (N_test, 2) PCA
    of the test representations (None when not asked for).
    """

    method: str
    features: str
    rebalance: str
    seed: int
    test_score: np.ndarray
    val_score: np.ndarray
    threshold: float
    threshold_description: str
    scored_by: str
    history: list[dict[str, Any]] = field(default_factory=list)
    projection: Optional[np.ndarray] = None
    n_fit_rebalanced: int = 0
    train_seconds: float = 0.0
    steps: int = 0
    final_loss: Optional[float] = None
    device: str = "cpu"

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.method, self.features, self.rebalance, self.seed)


def pca_2d(Z: np.ndarray) -> np.ndarray:
    """(N, D) representations -> (N, 2) float32 coordinates on their first two principal axes
    (centred, each dimension scaled to unit variance; fewer than 2 dimensions are zero-padded)."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"Z must be (N, D) representations, got shape {Z.shape}")
    out = np.zeros((len(Z), 2), dtype=np.float32)
    if len(Z) < 2:
        return out
    Zc = Z - Z.mean(axis=0)
    sd = Zc.std(axis=0)
    Zc = Zc / np.where(sd > 0, sd, 1.0)
    _, _, vt = np.linalg.svd(Zc, full_matrices=False)
    k = min(2, vt.shape[0])
    out[:, :k] = (Zc @ vt[:k].T).astype(np.float32)
    return out


def choose_cell_threshold(y_val: np.ndarray, score_val: np.ndarray, rule: str = "f1",
                          **kwargs: Any) -> tuple[float, str]:
    """``evaluate.choose_threshold`` on the validation slice; when the rule needs positives and the
    slice has none, the fixed 0.5 of the class-balanced score, saying so."""
    from tsssl.evaluate import choose_threshold

    if rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}; got {rule!r}")
    y_val = np.asarray(y_val)
    if rule in ("f1", "precision_at_recall", "top_frac") and (y_val.size == 0 or y_val.sum() == 0):
        return 0.5, (f"fixed 0.5 on the class-balanced score: the validation slice ({y_val.size} "
                     f"windows) has no positive window for rule {rule!r}")
    return choose_threshold(y_val, score_val, rule, **kwargs)


def make_trainer(cfg: RunConfig, seed: int, n_samples: int):
    """The Trainer of a cell: the configuration's length and optimiser, no checkpoints, the batch
    capped at the number of training samples (rebalancing v1 can leave fewer than a batch)."""
    from tsssl.train import Trainer

    return Trainer(epochs=cfg.epochs, max_steps=cfg.max_steps, batch_size=max(1, min(cfg.batch_size, n_samples)),
                   lr=cfg.lr, weight_decay=cfg.weight_decay, device=cfg.device, precision=cfg.precision,
                   seed=seed, out_dir=None, progress=False)


def build_cell_method(method_name: str, cfg: RunConfig, fit_ws, labels: Optional[np.ndarray] = None,
                      rebalance: str = "none"):
    """The method of a report cell or of a `tsssl train` run around ``cfg``'s encoder, inputs
    standardised with the fit windows' per-channel statistics. lstm without rebalancing gets balanced class weights (``labels``);
    self-supervised methods get the default views, one-hot channels left exact."""
    from tsssl.augment import default_timeseries_views
    from tsssl.methods import build_method, channel_stats

    kwargs = dict(cfg.method_kwargs)
    if method_name == "lstm":
        if rebalance == "none":
            kwargs.setdefault("class_weight", "balanced")
        if kwargs.get("class_weight") == "balanced":
            kwargs.setdefault("labels", labels)
    else:
        kwargs.setdefault("views", default_timeseries_views(channels=continuous_channels(fit_ws.feature_names)))
    return build_method(method_name, in_channels=fit_ws.X.shape[2], encoder=cfg.encoder,
                        encoder_kwargs=cfg.encoder_kwargs, standardize=channel_stats(fit_ws.X), **kwargs)


def _seed_all(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def run_method(method_name: str, cfg: RunConfig, sd: SplitData, rebalances: Iterable[str], seed: int,
               threshold_rule: str = "f1", project: bool = True,
               on_cell: Optional[Callable[[CellResult], None]] = None) -> list[CellResult]:
    """Train and score ``method_name`` on one feature set for every rebalance strategy, one seed.

    Returns one :class:`CellResult` per rebalance (in the order given). ``lstm`` trains once
    per rebalance; a self-supervised method trains its encoder once and fits one probe per
    rebalance. ``on_cell`` is called with each result as soon as it is ready (progress).
    """
    from tsssl import data, evaluate

    rebalances = list(rebalances)
    results: list[CellResult] = []
    fit, val, test = sd.fit, sd.val, sd.test
    val_y = val.y

    def finish(rebalance: str, method, result, train_seconds: float, val_score, test_score,
               n_bal: int, scored_by: str, z_test=None) -> None:
        t, how = choose_cell_threshold(val_y, val_score, threshold_rule)
        cell = CellResult(
            method=method_name, features=sd.features, rebalance=rebalance, seed=seed,
            test_score=np.asarray(test_score, dtype=np.float64),
            val_score=np.asarray(val_score, dtype=np.float64), threshold=float(t),
            threshold_description=how, scored_by=scored_by, history=list(result.history),
            projection=None if z_test is None else pca_2d(z_test), n_fit_rebalanced=int(n_bal),
            train_seconds=round(train_seconds, 3), steps=int(result.steps),
            final_loss=finite_or_none(result.final_loss), device=str(result.device))
        results.append(cell)
        if on_cell is not None:
            on_cell(cell)

    if method_name == "lstm":
        for rebalance in rebalances:
            _seed_all(seed)
            bal = data.rebalance(fit, rebalance, seed=seed)
            method = build_cell_method("lstm", cfg, fit, labels=bal.y, rebalance=rebalance)
            t0 = time.perf_counter()
            result = make_trainer(cfg, seed, len(bal)).fit(method, bal)
            dt = time.perf_counter() - t0
            method.eval()
            val_score = method.predict_proba(val.X)[:, 1]
            test_score = method.predict_proba(test.X)[:, 1]
            z_test = evaluate.embed(method.encoder, test.X) if project else None
            finish(rebalance, method, result, dt, val_score, test_score, len(bal),
                   "lstm classifier head", z_test)
        return results

    _seed_all(seed)
    method = build_cell_method(method_name, cfg, fit)
    t0 = time.perf_counter()
    result = make_trainer(cfg, seed, len(fit)).fit(method, fit)  # every fit window, no labels used
    dt = time.perf_counter() - t0
    method.eval()
    z_val = evaluate.embed(method.encoder, val.X)
    z_test = evaluate.embed(method.encoder, test.X)
    for rebalance in rebalances:
        bal = data.rebalance(fit, rebalance, seed=seed)
        z_bal = evaluate.embed(method.encoder, bal.X)
        probe = evaluate.fit_probe(z_bal, bal.y, kind=cfg.probe, class_weight="balanced", seed=seed)
        finish(rebalance, method, result, dt, evaluate.probe_scores(probe, z_val),
               evaluate.probe_scores(probe, z_test), len(bal),
               f"{cfg.probe} probe on the frozen encoder", z_test if project else None)
    return results
