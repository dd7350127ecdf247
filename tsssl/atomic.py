"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A reader (or a crash) never sees half a file: either the previous file or the new one. Every
output of tsssl (checkpoints, configs, metrics, logs, reports, the price cache) goes through
:func:`atomic_write`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[IO[Any]], Any],
    mode: str = "w",
    fsync: bool = False,
    newline: str | None = None,
) -> Path:
    """Call ``write(fh)`` on a temporary file next to ``path``, then rename it over ``path``.

    mode: "w" (text, UTF-8) or "wb"; fsync: flush to disk before the rename (checkpoints);
    newline: passed to ``open`` in text mode. The file gets the permissions a plain ``open``
    would give (mkstemp's are owner-only). On any error the temporary file is removed and
    ``path`` is left as it was. Returns ``path`` as a Path.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        text = {"encoding": "utf-8", "newline": newline} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def jsonable(v: Any) -> Any:
    """``json.dump``'s fallback: numpy / torch scalars as Python numbers, anything else as str."""
    if hasattr(v, "item"):
        return v.item()
    return str(v)


def json_ready(v: Any) -> Any:
    """``v`` with numpy / torch scalars and arrays turned into Python numbers and lists, and
    NaN / inf into None, through dicts, lists and tuples (tuples become lists)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN / inf: an undefined metric is null
    if isinstance(v, dict):
        return {k: json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):  # numpy / torch scalars and arrays
        return json_ready(v.tolist())
    return v


def finite_or_none(x: Any) -> float | None:
    """``float(x)``, or None for None, NaN and inf (a figure that JSON writes as null)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """``obj`` as indented JSON (NaN / inf written as null, numpy scalars as numbers), atomically."""

    def write(fh: IO[str]) -> None:
        json.dump(json_ready(obj), fh, indent=2, default=jsonable, allow_nan=False)
        fh.write("\n")

    return atomic_write(path, write)
