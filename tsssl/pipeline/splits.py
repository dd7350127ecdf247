"""Prices -> windows -> one split shared by every feature set (docs/design.md, "Split").

Windows are built once per feature set; every feature set is split at the same first test date
(resolved once, on the first feature set's windows) and :func:`check_same_split` verifies that the
training, validation and test windows are the same (ticker, end date) rows in every feature set,
so that the cells of a report differ only in what they claim to differ in.

Validation slice. The threshold that turns a score into a call is chosen on the chronological
tail of the training period (``tsssl.evaluate.validation_slice``: the last ``val_frac`` of the
training end dates, purged by the horizon like the test split), never on test. The models are
fitted on the windows before it (the *fit* windows), so the validation scores are
out-of-sample, at the natural base rate the test set will have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsssl.config import RunConfig


def load_configured_prices(cfg: RunConfig):
    """The price frame the configuration names, cut to start..end (ValueError when empty)."""
    return load_run_prices(cfg)[0]


def load_run_prices(cfg: RunConfig) -> tuple[Any, dict[str, Any]]:
    """(prices, record): the price frame ``cfg`` names, cut to start..end, and what became of the
    request (``data_record``): tickers asked for, used and left out with the reason. The
    loaders' warnings (a failed download, a ticker without rows) are still shown."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prices = _load_prices(cfg)
    for w in caught:  # shown as before, and kept for the record
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return prices, data_record(cfg, prices, [str(w.message) for w in caught if issubclass(w.category, UserWarning)])


def data_record(cfg: RunConfig, prices: Any, messages: list[str]) -> dict[str, Any]:
    """What the run's data are: tickers requested (for a ticker list), used, and left out with the
    loader's reason; the rows; the loaders' warnings; the file's layout and the empty cells of a
    wide panel dropped (``tsssl.data.layouts``), when the loader says."""
    import pandas as pd

    used = sorted(map(str, pd.unique(prices["ticker"])))
    requested = [t.strip().upper() for t in cfg.tickers] if cfg.source == "tickers" else used
    left_out = {t: next((m for m in messages if t in m), "no rows in the data") for t in requested if t not in used}
    record = {"requested_tickers": requested, "tickers": used, "left_out": left_out, "n_rows": int(len(prices)),
              "warnings": messages}  # fmt: skip
    record.update({k: prices.attrs[k] for k in ("layout", "dropped", "dropped_text") if k in prices.attrs})
    return record


def _load_prices(cfg: RunConfig):
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
        prices = data.load_sample(cfg.sample)
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
                f"no prices between start={cfg.start or '-'} and end={cfg.end or '-'}; the data covers {span}"
            )
        attrs = dict(prices.attrs)
        prices = prices[keep.to_numpy()].reset_index(drop=True)
        prices.attrs = attrs  # the layout and dropped cells of the whole file
    return prices


def continuous_channels(feature_names: list[str]) -> list[int] | None:
    """Channels that augmentation may perturb: all but one-hot (p-adic digit) channels."""
    keep = [i for i, n in enumerate(feature_names) if "digit" not in n and "onehot" not in n]
    return None if len(keep) == len(feature_names) else keep


def iso_day(value: Any) -> str:
    """A date (numpy datetime64, pandas Timestamp, ...) as YYYY-MM-DD."""
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
            "train_start": iso_day(s.train.end_date.min()),
            "train_end": iso_day(s.train_end),
            "fit_end": iso_day(v.train_end),
            "val_start": iso_day(v.test.end_date.min()),
            "val_end": iso_day(v.test_end),
            "test_start": iso_day(s.test.end_date.min()),
            "test_end": iso_day(s.test_end),
            "purge": s.purge,
            "embargo": s.embargo,
            "n_purged": s.n_purged,
            "n_purged_before_val": v.n_purged,
            "n_train": len(s.train),
            "n_fit": len(self.fit),
            "n_val": len(self.val),
            "n_val_pos": int(self.val.n_positive),
            "n_test": len(s.test),
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
            if len(a) != len(b) or not (np.array_equal(da, db) and np.array_equal(ta, tb) and np.array_equal(a.y, b.y)):
                raise ValueError(
                    f"features {name!r} and {ref_name!r} differ in their {part} windows "
                    f"({len(b)} vs {len(a)} rows): the cells would not be comparable"
                )
        desc = {k: v for k, v in sd.describe().items() if k != "features"}
        if desc != ref_desc:
            diff = sorted(k for k in desc if desc[k] != ref_desc.get(k))
            raise ValueError(f"features {name!r} and {ref_name!r} have different split dates: {diff}")
    return ref_desc


def prepare_splits(
    prices,
    features: Sequence[str] = ("ohlcv", "ohlcv+padic"),
    window: int = 20,
    horizon: int = 5,
    test_start: Any = None,
    test_frac: float = 0.2,
    embargo: int = 0,
    val_frac: float = 0.2,
    purge: int | None = None,
    padic: Mapping[str, Any] | None = None,
) -> dict[str, SplitData]:
    """Windows per feature set, all split at the same dates; checked with :func:`check_same_split`.

    The first test date is ``test_start`` or, when None, the first of the last ``test_frac`` of
    the first feature set's window end dates; the validation slice is the last ``val_frac`` of
    the training end dates. Both are purged by ``purge`` (None: ``horizon``) trading days plus
    ``embargo``. padic: ``p`` / ``deadband`` of the P-adic digits (``build_windows``).
    """
    from tsssl import data

    windows = build_feature_windows(prices, features, window, horizon, val_frac, padic)
    first = next(iter(windows.values()))
    split = data.chronological_split(first, test_start=test_start, test_frac=test_frac, purge=purge, embargo=embargo)
    return split_features(windows, split.test_start, None, val_frac, purge, embargo)


def prepare_folds(
    prices,
    features: Sequence[str] = ("ohlcv", "ohlcv+padic"),
    window: int = 20,
    horizon: int = 5,
    folds: int = 4,
    test_start: Any = None,
    test_frac: float = 0.2,
    embargo: int = 0,
    val_frac: float = 0.2,
    purge: int | None = None,
    padic: Mapping[str, Any] | None = None,
) -> list[dict[str, SplitData]]:
    """Walk-forward: the test period (from ``test_start``, or the last ``test_frac`` of the end
    dates) cut into ``folds`` consecutive blocks of end dates; fold k trains (and takes its
    validation slice) on the windows before its block only, purged by ``purge`` + ``embargo``
    trading days (docs/design.md, "Walk-forward"). One dict feature set -> SplitData per fold,
    every feature set cut at the same dates (checked)."""
    from tsssl import data

    windows = build_feature_windows(prices, features, window, horizon, val_frac, padic)
    first = next(iter(windows.values()))
    per_fold = test_frac / folds if test_start is None else None
    cuts = data.walk_forward(
        first, n_folds=folds, test_frac=per_fold, purge=purge, embargo=embargo, test_start=test_start
    )
    bounds = [(f.test_start, f.test_end) for f in cuts]
    stops = [start for start, _ in bounds[1:]] + [None]
    return [split_features(windows, start, stop, val_frac, purge, embargo) for (start, _), stop in zip(bounds, stops)]


def build_feature_windows(
    prices, features: Sequence[str], window: int, horizon: int, val_frac: float, padic: Mapping[str, Any] | None
) -> dict[str, Any]:
    """feature set -> WindowSet of every labelled window (``build_windows``)."""
    from tsssl import data

    features = list(dict.fromkeys(features))
    if not features:
        raise ValueError("features: give at least one feature set (ohlcv, ohlcv+padic)")
    if not 0.0 < val_frac < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), e.g. 0.2, got {val_frac}")
    return {
        f: data.build_windows(prices, window=window, horizon=horizon, features=f, **dict(padic or {})) for f in features
    }


def split_features(
    windows: Mapping[str, Any], test_start: Any, test_stop: Any, val_frac: float, purge: int | None, embargo: int
) -> dict[str, SplitData]:
    """Every feature set's windows cut at ``test_start`` (test: end dates before ``test_stop``,
    None: to the end), with the validation slice of its training part; checked."""
    import pandas as pd

    from tsssl import data
    from tsssl.evaluate import validation_slice

    out: dict[str, SplitData] = {}
    for f, ws in windows.items():
        split = data.chronological_split(ws, test_start=pd.Timestamp(test_start), purge=purge, embargo=embargo)
        if test_stop is not None:
            split = _stop_test(split, test_stop)
        if len(split.train) < 2:
            raise ValueError(
                f"the split left {len(split.train)} training windows; use more dates or a later --test-start"
            )
        val_split = validation_slice(split.train, frac=val_frac, purge=purge, embargo=embargo)
        out[f] = SplitData(
            features=f, windows=ws, split=split, fit=val_split.train, val=val_split.test, val_split=val_split
        )
    check_same_split(out)
    return out


def _stop_test(split: Any, test_stop: Any) -> Any:
    """``split`` with its test windows cut to those ending before ``test_stop`` (a fold's block)."""
    import dataclasses

    import pandas as pd

    keep = split.test.end_date < np.datetime64(pd.Timestamp(test_stop), "ns")
    test = split.test.subset(keep)
    return dataclasses.replace(split, test=test, test_end=pd.Timestamp(test.end_date.max()))


def describe_prices(prices) -> dict[str, Any]:
    """Tickers, first / last date and row count of a price frame."""
    import pandas as pd

    dates = pd.to_datetime(prices["date"])
    return {
        "tickers": sorted(map(str, pd.unique(prices["ticker"]))),
        "first_date": f"{dates.min():%Y-%m-%d}",
        "last_date": f"{dates.max():%Y-%m-%d}",
        "n_rows": int(len(prices)),
    }
