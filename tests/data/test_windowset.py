"""WindowSet's label_end_date travels with subset and is checked for length."""

import numpy as np
import pytest

from tsssl.data import WindowSet


def make(n=6, label_end=True):
    end = np.datetime64("2021-01-04", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return WindowSet(
        X=np.arange(n * 2 * 1, dtype=np.float32).reshape(n, 2, 1),
        y=np.arange(n) % 2,
        end_date=end,
        ticker=np.array(["A"] * n, dtype=object),
        feature_names=["f"],
        label_end_date=end + np.timedelta64(3, "D") if label_end else None,
        meta={"horizon": 3},
    )


def test_subset_carries_label_end_date_and_meta():
    ws = make()
    sub = ws.subset(np.array([4, 1]))
    np.testing.assert_array_equal(sub.label_end_date, ws.label_end_date[[4, 1]])
    np.testing.assert_array_equal(sub.X[:, 0, 0], [8, 2])
    assert sub.meta == ws.meta and sub.meta is not ws.meta
    mask = ws.subset(ws.y == 1)
    assert len(mask) == 3 and len(mask.label_end_date) == 3
    assert make(label_end=False).subset([0, 1]).label_end_date is None


def test_label_end_date_length_is_checked():
    ws = make()
    with pytest.raises(ValueError, match="label_end_date has 2 rows but X has 6"):
        WindowSet(
            X=ws.X,
            y=ws.y,
            end_date=ws.end_date,
            ticker=ws.ticker,
            feature_names=["f"],
            label_end_date=ws.label_end_date[:2],
        )
