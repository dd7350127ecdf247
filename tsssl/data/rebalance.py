"""Class rebalancing of training windows (docs/design.md, "Rebalancing"), imbalanced-learn
underneath.

- ``v1``: random undersampling of the majority class to 1:1 (RandomUnderSampler);
- ``v2``: random oversampling of the minority class to 1:1 (RandomOverSampler);
- ``v3``: SMOTE on the flattened windows (N, window * C), reshaped back to (N, window, C);
  the new rows are marked ``synthetic=True`` with ticker ``"<smote>"`` and NaT dates;
- ``none``: the windows as they are (class weights remain available to every loss).

Windows held as views (:class:`tsssl.data.windowviews.WindowViews`) stay views under v1 / v2
(rows selected by index). v3 materialises them; above ``SMOTE_MAX_VIEWS`` windows it is refused
with a ValueError naming v1 / v2, the strategies that work on views.

The random samplers are fitted on an index column (``np.arange(n)[:, None]``) and the windows
are taken as ``X[sampler.sample_indices_]``: exact rows, the window shape never flattened. The
kept indices are sorted, so the result stays in (ticker, date) order (duplicates of v2 sit next
to their original; the Trainer shuffles anyway).

Apply it to the **training windows only**: the test windows keep their natural base rate (a
WindowSet marked as a test part by ``chronological_split`` is refused).
"""

from __future__ import annotations

import warnings

import numpy as np

from tsssl.data.windowset import WindowSet
from tsssl.data.windowviews import WindowViews
from tsssl.registry import REBALANCE as STRATEGIES

SMOTE_TICKER = "<smote>"
#: the most windows SMOTE takes when they are views (it needs them dense, flattened, and a
#: nearest-neighbour search over the minority class)
SMOTE_MAX_VIEWS = 1_000_000


def rebalance(ws: WindowSet, strategy: str = "v1", seed: int = 0, k_neighbors: int = 5) -> WindowSet:
    """The training windows ``ws`` rebalanced to 1:1 by ``strategy`` (see the module docstring).

    ``k_neighbors`` (SMOTE only) is lowered to the minority count - 1 when the minority class
    is smaller than that. meta records ``rebalance`` (the strategy), ``rebalance_seed`` and the
    class counts before and after.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be one of {', '.join(STRATEGIES)} "
            f"(v1 undersample, v2 oversample, v3 SMOTE), got {strategy!r}"
        )
    if not isinstance(ws, WindowSet):
        raise ValueError(f"ws must be a WindowSet, got {type(ws).__name__}")
    split = ws.meta.get("split")
    if isinstance(split, dict) and split.get("part") == "test":
        raise ValueError(
            "rebalance got test windows (meta split part 'test'); rebalance the "
            "training windows only, the test set keeps its natural base rate"
        )
    before = _counts(ws.y)
    if strategy == "none":
        return ws.with_meta(rebalance="none", rebalance_seed=seed, rebalance_counts={"before": before, "after": before})
    if not np.isin(ws.y, (0, 1)).all():
        other = np.setdiff1d(ws.y, (0, 1))[:5].tolist()
        raise ValueError(f"rebalance needs labels 0 / 1 (strict rise or not), got also {other}")
    classes = [c for c in (0, 1) if before[str(c)]]
    if len(classes) < 2:
        only = f"only class {classes[0]}" if classes else "no windows"
        raise ValueError(
            f"rebalance(strategy={strategy!r}) needs windows of both classes 0 and 1, got "
            f"{only} ({len(ws)} windows); use more data, another split, or strategy='none'"
        )

    if strategy in ("v1", "v2"):
        from imblearn.over_sampling import RandomOverSampler
        from imblearn.under_sampling import RandomUnderSampler

        sampler = (RandomUnderSampler if strategy == "v1" else RandomOverSampler)(random_state=seed)
        sampler.fit_resample(np.arange(len(ws))[:, None], ws.y)
        out = ws.subset(np.sort(sampler.sample_indices_))
    else:
        out = _smote(ws, seed, k_neighbors)
    return out.with_meta(
        rebalance=strategy, rebalance_seed=seed, rebalance_counts={"before": before, "after": _counts(out.y)}
    )


def _counts(y: np.ndarray) -> dict[str, int]:
    return {"0": int((y == 0).sum()), "1": int((y == 1).sum())}


def _smote(ws: WindowSet, seed: int, k_neighbors: int) -> WindowSet:
    from imblearn.over_sampling import SMOTE

    n, t, c = ws.X.shape
    if isinstance(ws.X, WindowViews) and n > SMOTE_MAX_VIEWS:
        raise ValueError(
            f"rebalance(strategy='v3'): SMOTE needs the {n:,} windows dense ({n * t * c * 4 / 2**30:.1f} GiB "
            f"before its copies), more than SMOTE_MAX_VIEWS = {SMOTE_MAX_VIEWS:,} windows held as views; "
            "use strategy='v1' (undersample) or 'v2' (oversample), which select views by index"
        )
    minority = int(min((ws.y == 0).sum(), (ws.y == 1).sum()))
    if minority < 2:
        raise ValueError(
            f"rebalance(strategy='v3'): SMOTE needs at least 2 windows of the minority "
            f"class to interpolate between, got {minority}; use strategy='v2' or more data"
        )
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, (int, np.integer)) or k_neighbors < 1:
        raise ValueError(f"k_neighbors must be an integer >= 1, got {k_neighbors!r}")
    k = min(int(k_neighbors), minority - 1)
    if k < k_neighbors:
        warnings.warn(
            f"rebalance(strategy='v3'): only {minority} minority windows, so SMOTE uses "
            f"k_neighbors={k} instead of {k_neighbors}",
            UserWarning,
            stacklevel=3,
        )
    X_res, y_res = SMOTE(k_neighbors=k, random_state=seed).fit_resample(np.asarray(ws.X).reshape(n, t * c), ws.y)
    if not np.array_equal(y_res[:n], ws.y):  # imblearn keeps the originals first, in order
        raise RuntimeError("SMOTE returned the original windows out of order")
    n_new = len(y_res) - n
    ticker = np.concatenate([np.asarray(ws.ticker, dtype=object), np.full(n_new, SMOTE_TICKER, dtype=object)])
    nat = np.full(n_new, np.datetime64("NaT"), dtype=ws.end_date.dtype)
    label_end = None
    if ws.label_end_date is not None:
        label_end = np.concatenate(
            [ws.label_end_date, np.full(n_new, np.datetime64("NaT"), dtype=ws.label_end_date.dtype)]
        )
    return WindowSet(
        X=np.ascontiguousarray(X_res, dtype=np.float32).reshape(-1, t, c),
        y=np.asarray(y_res, dtype=np.int64),
        end_date=np.concatenate([ws.end_date, nat]),
        ticker=ticker,
        feature_names=list(ws.feature_names),
        synthetic=np.concatenate([ws.synthetic, np.ones(n_new, dtype=bool)]),
        meta=dict(ws.meta, smote_k_neighbors=k),
        label_end_date=label_end,
    )
