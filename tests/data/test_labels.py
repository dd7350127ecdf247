"""strict_rise_label against hand-made price paths and a naive loop."""

import numpy as np
import pytest

from tsssl.data import strict_rise_label


def naive_label(close, horizon):
    y = np.full(len(close), np.nan)
    for t in range(len(close) - horizon):
        path = close[t : t + horizon + 1]
        if np.isnan(path).any():
            continue
        y[t] = float(all(path[i] < path[i + 1] for i in range(horizon)))
    return y


def test_hand_made_paths():
    y = strict_rise_label(np.array([1.0, 2, 3, 4, 5, 6, 7]), horizon=5)
    np.testing.assert_array_equal(y, [1, 1, np.nan, np.nan, np.nan, np.nan, np.nan])
    # a tie is not a rise: 2 -> 2 breaks both labels that read it
    y = strict_rise_label(np.array([1.0, 2, 2, 3, 4, 5, 6, 7]), horizon=5)
    np.testing.assert_array_equal(y[:3], [0, 0, 1])
    assert np.isnan(y[3:]).all() and len(y) == 8
    y = strict_rise_label(np.array([3.0, 1, 2, 2, 5]), horizon=1)
    np.testing.assert_array_equal(y, [0, 1, 0, 1, np.nan])
    y = strict_rise_label(np.array([5.0, 4, 3, 2, 1, 0.5, 0.4]), horizon=5)
    np.testing.assert_array_equal(y[:2], [0, 0])


def test_nan_tail_is_never_zero_and_short_series_are_all_nan():
    y = strict_rise_label(np.arange(1.0, 21.0), horizon=5)
    assert np.isnan(y[-5:]).all() and (y[:-5] == 1).all()
    assert np.isnan(strict_rise_label(np.array([1.0, 2.0, 3.0]), horizon=5)).all()


def test_a_nan_close_makes_the_labels_that_read_it_nan():
    close = np.array([1.0, 2, 3, np.nan, 5, 6, 7, 8, 9])
    y = strict_rise_label(close, horizon=2)
    np.testing.assert_array_equal(np.isnan(y), [False, True, True, True, False, False, False, True, True])
    np.testing.assert_array_equal(y[[0, 4, 5, 6]], [1, 1, 1, 1])


def test_matches_naive_loop_with_many_ties_and_2d_rows():
    rng = np.random.default_rng(0)
    close = np.round(100 + np.cumsum(rng.normal(size=(4, 300)), axis=1))  # integers: many ties
    for h in (1, 2, 5):
        y2 = strict_rise_label(close, horizon=h)
        assert y2.shape == close.shape
        for row in range(4):
            ref = naive_label(close[row], h)
            np.testing.assert_array_equal(strict_rise_label(close[row], h), ref)
            np.testing.assert_array_equal(y2[row], ref)


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True])
def test_bad_horizon_is_named(horizon):
    with pytest.raises(ValueError, match="horizon must be an integer >= 1"):
        strict_rise_label(np.arange(10.0), horizon=horizon)
