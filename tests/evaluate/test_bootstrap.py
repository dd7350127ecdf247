import numpy as np
import pytest
from sklearn.metrics import precision_score

from tsssl.evaluate.bootstrap import (
    block_indices,
    bootstrap,
    date_groups,
    effective_block_len,
    group_counts,
    percentile_interval,
    replicate_weights,
)
from tsssl.evaluate.metrics import weighted_precision, weighted_recall


def _panel(n_dates, per_date, seed, start="2015-01-01"):
    """Windows of several tickers per date; labels with a date-level common factor."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.datetime64(start) + np.arange(n_dates), per_date)
    market = np.repeat(rng.normal(size=n_dates), per_date)
    latent = market + rng.normal(size=dates.size)
    y = (latent > 1.2).astype(int)
    score = latent + rng.normal(scale=0.8, size=dates.size)
    return dates, y, (score > 1.2).astype(int)


def test_block_indices_are_circular_runs_of_consecutive_dates():
    rng = np.random.default_rng(0)
    idx = block_indices(53, 40, 7, rng)
    assert idx.shape == (40, 53) and idx.min() >= 0 and idx.max() < 53
    within = np.ones(53 - 1, dtype=bool)
    within[6::7] = False  # position j -> j+1 crosses into the next block
    step = (idx[:, 1:] - idx[:, :-1]) % 53
    assert (step[:, within] == 1).all()
    assert (step[:, ~within] != 1).any()  # new blocks start anywhere
    counts = group_counts(idx, 53)
    assert (counts.sum(axis=1) == 53).all()
    naive = np.stack([np.bincount(row, minlength=53) for row in idx])
    assert (counts == naive).all()


def test_windows_of_a_date_move_together():
    dates = np.array(
        [
            "2021-01-05",
            "2021-01-04",
            "2021-01-05",
            "2021-01-06",
            "2021-01-04",
            "2021-01-07",
            "2021-01-05",
            "2021-01-08",
        ],
        dtype="datetime64[D]",
    )
    group, n_groups = date_groups(dates)
    assert n_groups == 5 and group.tolist() == [1, 0, 1, 2, 0, 3, 1, 4]
    for W in replicate_weights(dates.size, dates, n_boot=200, block_days=2, seed=3):
        # one weight per date, shared by all its windows
        for g in range(n_groups):
            cols = W[:, group == g]
            assert (cols == cols[:, :1]).all()
        # replicate = n_groups dates drawn: weights sum to the windows of the drawn dates
        per_date = np.stack([W[:, group == g][:, 0] for g in range(n_groups)], axis=1)
        assert (per_date.sum(axis=1) == n_groups).all()
        sizes = np.bincount(group)
        assert np.allclose(W.sum(axis=1), per_date @ sizes)


def test_iid_bootstrap_without_dates():
    Ws = np.concatenate(list(replicate_weights(30, None, n_boot=500, seed=0, chunk_size=64)))
    assert Ws.shape == (500, 30)
    assert (Ws.sum(axis=1) == 30).all()
    # each window is drawn once per replicate on average
    assert Ws.mean() == pytest.approx(1.0, abs=0.05)


def test_seeded_determinism():
    dates, y, pred = _panel(80, 6, 0)
    stat = lambda W: weighted_precision(y, pred, W)  # noqa: E731
    a = bootstrap(stat, y.size, dates=dates, n_boot=200, seed=5)
    b = bootstrap(stat, y.size, dates=dates, n_boot=200, seed=5)
    c = bootstrap(stat, y.size, dates=dates, n_boot=200, seed=6)
    assert np.array_equal(a.replicates, b.replicates) and (a.low, a.high) == (b.low, b.high)
    assert not np.array_equal(a.replicates, c.replicates)


def test_replicate_value_equals_metric_on_the_resampled_windows():
    dates, y, pred = _panel(40, 5, 1)
    W = next(replicate_weights(y.size, dates, n_boot=3, block_days=5, seed=2))
    for w, value in zip(W.astype(int), weighted_precision(y, pred, W.astype(float))):
        rows = np.repeat(np.arange(y.size), w)  # the resampled test set, written out
        assert value == pytest.approx(precision_score(y[rows], pred[rows]))


def test_interval_covers_point_and_narrows_with_more_dates():
    widths = []
    for n_dates in (100, 400):
        dates, y, pred = _panel(n_dates, 8, 11)
        res = bootstrap(
            {
                "precision": lambda W, y=y, pred=pred: weighted_precision(y, pred, W),
                "recall": lambda W, y=y, pred=pred: weighted_recall(y, pred, W),
            },
            y.size,
            dates=dates,
            n_boot=400,
            seed=0,
        )
        point = precision_score(y, pred)
        assert res["precision"].low <= point <= res["precision"].high
        widths.append(res["precision"].high - res["precision"].low)
    # 4x the dates: about half the width (1/sqrt(4)); allow for noise
    assert widths[1] < 0.75 * widths[0]


def test_block_bootstrap_is_wider_than_iid_when_dates_are_correlated():
    # labels and predictions shared by all windows of a date: 20 windows carry one date's worth
    rng = np.random.default_rng(4)
    n_dates, per_date = 150, 20
    dates = np.repeat(np.arange(n_dates), per_date)
    y = np.repeat((rng.random(n_dates) < 0.3).astype(int), per_date)
    pred = np.repeat((rng.random(n_dates) < 0.5).astype(int), per_date) | y
    stat = lambda W: weighted_precision(y, pred, W)  # noqa: E731
    by_date = bootstrap(stat, y.size, dates=dates, n_boot=400, block_days=1, seed=0)
    iid = bootstrap(stat, y.size, dates=None, n_boot=400, seed=0)
    assert (by_date.high - by_date.low) > 2.5 * (iid.high - iid.low)


def test_percentile_interval_and_block_cap():
    r = np.r_[np.arange(101, dtype=float), np.nan]
    assert percentile_interval(r, 0.9) == pytest.approx((5.0, 95.0))
    assert all(np.isnan(percentile_interval(np.array([np.nan, np.nan]))))
    with pytest.raises(ValueError, match="ci"):
        percentile_interval(r, 95)
    assert effective_block_len(25, 400) == 25
    assert effective_block_len(25, 30) == 15  # one block of all dates would draw the same set
    with pytest.raises(ValueError, match="block_days"):
        effective_block_len(0, 10)
    with pytest.raises(ValueError, match="dates"):
        next(replicate_weights(5, np.arange(4), n_boot=2))
