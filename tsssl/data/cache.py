"""The per-ticker price cache of ``load_prices``.

One parquet file per ticker (``<cache_dir>/<quoted ticker>.parquet``) with the columns date,
open, high, low, close, volume, and in its schema metadata (key ``tsssl``) the ticker, the
``auto_adjust`` setting of the download and the date ranges already fetched ("covered"), as
half-open [start, stop) day intervals. A range that was fetched and had no trading day in it
is covered too, so asking again makes no network call. Files are written to a temporary file
in the same folder and renamed (``os.replace``): a reader never sees half a file.

Default folder: ``$TSSSL_CACHE``, else ``$XDG_CACHE_HOME/tsssl``, else ``~/.cache/tsssl``
(``%LOCALAPPDATA%\\tsssl\\cache`` on Windows).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from tsssl.atomic import atomic_write

CACHE_VERSION = 1
FIELDS = ("date", "open", "high", "low", "close", "volume")
Interval = tuple[np.datetime64, np.datetime64]  # [start, stop) in days


def default_cache_dir() -> Path:
    """$TSSSL_CACHE, else the user's cache folder + /tsssl."""
    env = os.environ.get("TSSSL_CACHE")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "tsssl" / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "tsssl"


def cache_path(cache_dir: Path, ticker: str) -> Path:
    """File of one ticker; the name is the quoted ticker (``^GSPC`` -> ``%5EGSPC.parquet``)."""
    return Path(cache_dir) / f"{quote(ticker, safe='-_.')}.parquet"


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    """Sorted union of half-open day intervals (touching ones joined)."""
    out: list[Interval] = []
    for a, b in sorted((a, b) for a, b in intervals if a < b):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def missing_intervals(request: Interval, covered: list[Interval]) -> list[Interval]:
    """Parts of ``request`` [a, b) not in ``covered``, in date order."""
    a, b = request
    gaps: list[Interval] = []
    for c, d in merge_intervals(covered):
        if d <= a or c >= b:
            continue
        if c > a:
            gaps.append((a, c))
        a = max(a, d)
    if a < b:
        gaps.append((a, b))
    return gaps


def read_cache(path: Path, auto_adjust: bool = True) -> tuple[pd.DataFrame, list[Interval]] | None:
    """(rows, covered intervals) of a cache file; None when absent, unreadable or made with
    another ``auto_adjust`` (an unreadable file is reported in a warning and ignored)."""
    if not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        info = json.loads((table.schema.metadata or {})[b"tsssl"])
        frame = table.to_pandas()
    except Exception as err:  # corrupt or foreign file: refetch rather than fail
        warnings.warn(
            f"ignoring unreadable price cache {path} ({err}); it will be re-downloaded", UserWarning, stacklevel=3
        )
        return None
    if info.get("auto_adjust") != auto_adjust or info.get("version") != CACHE_VERSION:
        return None
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    covered = [(np.datetime64(a, "D"), np.datetime64(b, "D")) for a, b in info.get("covered", [])]
    return frame[list(FIELDS)], covered


def write_cache(
    path: Path, ticker: str, frame: pd.DataFrame, covered: list[Interval], auto_adjust: bool = True
) -> None:
    """Write one ticker's rows and covered intervals atomically (temp file + rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "version": CACHE_VERSION,
        "ticker": ticker,
        "auto_adjust": auto_adjust,
        "covered": [[str(a), str(b)] for a, b in merge_intervals(covered)],
    }
    table = pa.Table.from_pandas(frame[list(FIELDS)].reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"tsssl": json.dumps(info).encode()})
    atomic_write(path, lambda fh: pq.write_table(table, fh), mode="wb")
