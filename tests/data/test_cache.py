"""The per-ticker price cache: interval arithmetic, atomic files, default folder."""

import numpy as np
import pandas as pd
import pytest

from tsssl.data import cache


def d(s):
    return np.datetime64(s, "D")


def test_merge_and_missing_intervals():
    covered = [
        (d("2020-01-10"), d("2020-01-20")),
        (d("2020-01-01"), d("2020-01-05")),
        (d("2020-01-05"), d("2020-01-07")),
    ]
    assert cache.merge_intervals(covered) == [(d("2020-01-01"), d("2020-01-07")), (d("2020-01-10"), d("2020-01-20"))]
    assert cache.missing_intervals((d("2019-12-30"), d("2020-01-25")), covered) == [
        (d("2019-12-30"), d("2020-01-01")),
        (d("2020-01-07"), d("2020-01-10")),
        (d("2020-01-20"), d("2020-01-25")),
    ]
    assert cache.missing_intervals((d("2020-01-02"), d("2020-01-06")), covered) == []
    assert cache.missing_intervals((d("2020-01-02"), d("2020-01-08")), []) == [(d("2020-01-02"), d("2020-01-08"))]


def rows(n=3):
    return pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-06", periods=n),
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 10.0,
        }
    )


def test_round_trip_and_atomic_write(tmp_path, monkeypatch):
    path = cache.cache_path(tmp_path, "^GSPC")
    assert path.name == "%5EGSPC.parquet"
    covered = [(d("2020-01-06"), d("2020-01-09"))]
    cache.write_cache(path, "^GSPC", rows(), covered)
    frame, got = cache.read_cache(path)
    pd.testing.assert_frame_equal(frame, rows().astype({"date": "datetime64[ns]"}))
    assert got == covered
    assert cache.read_cache(path, auto_adjust=False) is None  # another adjustment: not used
    # a write that fails half-way leaves the old file and no temporary file behind
    import pyarrow.parquet as pq

    def broken(table, where):
        where.write(b"half a file")  # the open temporary file
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        cache.write_cache(path, "^GSPC", rows(5), covered)
    assert [p.name for p in tmp_path.iterdir()] == ["%5EGSPC.parquet"]
    assert len(cache.read_cache(path)[0]) == 3


def test_unreadable_cache_file_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "AAA.parquet"
    path.write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="ignoring unreadable price cache .*AAA.parquet"):
        assert cache.read_cache(path) is None
    assert cache.read_cache(tmp_path / "missing.parquet") is None


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TSSSL_CACHE", str(tmp_path / "a"))
    assert cache.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("TSSSL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir() == tmp_path / "xdg" / "tsssl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.default_cache_dir() == tmp_path / "home" / ".cache" / "tsssl"
