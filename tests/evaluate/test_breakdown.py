"""Per-group base rate and precision against a pandas groupby written out per seed."""

import numpy as np
import pandas as pd
import pytest

from tsssl.evaluate.breakdown import breakdown, years_of


def test_breakdown_matches_a_groupby_per_seed():
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.2).astype(np.int64)
    tickers = rng.choice(["AAA", "BBB", "CCC"], n)
    calls = {"A": (rng.random((2, n)) < 0.3).astype(np.int64), "B": (rng.random((3, n)) < 0.1).astype(np.int64)}
    calls["B"][:, tickers == "CCC"] = 0  # B never calls a CCC window: undefined there
    calls["B"][0, tickers == "BBB"] = 0  # one seed silent on BBB: the mean is over the other two
    rows = breakdown(y, tickers, calls)
    assert [r["group"] for r in rows] == ["AAA", "BBB", "CCC"]
    for r in rows:
        mask = tickers == r["group"]
        assert r["n"] == mask.sum() and r["n_pos"] == y[mask].sum()
        assert r["base_rate"] == pytest.approx(y[mask].mean())
        for name, c in calls.items():
            per_seed = [
                pd.DataFrame({"y": y[mask], "c": seed_calls[mask]}).query("c == 1")["y"].mean() for seed_calls in c
            ]
            defined = [p for p in per_seed if not np.isnan(p)]
            assert r[name]["n_seeds_defined"] == len(defined)
            assert r[name]["calls"] == pytest.approx(c[:, mask].sum(axis=1).mean())
            if defined:
                assert r[name]["precision"] == pytest.approx(np.mean(defined))
            else:
                assert np.isnan(r[name]["precision"])
    assert rows[2]["B"]["n_seeds_defined"] == 0 and rows[1]["B"]["n_seeds_defined"] == 2


def test_years_and_bad_input():
    dates = np.array(["2015-12-31", "2016-01-04", "2018-06-01"], dtype="datetime64[ns]")
    assert years_of(dates).tolist() == [2015, 2016, 2018]
    rows = breakdown([0, 1, 1], years_of(dates), {"A": [[1, 1, 0]]})
    assert [r["group"] for r in rows] == [2015, 2016, 2018]
    assert [r["A"]["precision"] for r in rows[:2]] == [0.0, 1.0] and np.isnan(rows[2]["A"]["precision"])
    with pytest.raises(ValueError, match="must cover"):
        breakdown([0, 1], ["a"], {"A": [[1, 0]]})
    with pytest.raises(ValueError, match="at least one method"):
        breakdown([0, 1], ["a", "b"], {})
