"""Finished cells of a report on disk, so that an interrupted ``tsssl report`` resumes after them.

    store = CellStore(out / "cells")
    store.save(cell)                         # cells/<method>__<features>__<rebalance>__s<seed>.npz
    store.load("lstm", "ohlcv", "v2", 0)     # the same CellResult back, or None

Each cell is one ``.npz`` written atomically (scores, threshold, projection; its other fields as
JSON), read back without pickle. A cell's result depends only on the configuration and its own
seed, so a resumed report equals an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tsssl.atomic import atomic_write, json_ready
from tsssl.pipeline.cell import CellResult

_ARRAYS = ("test_score", "val_score", "projection", "test_threshold")


def cell_file(method: str, features: str, rebalance: str, seed: int) -> str:
    """The file name of one cell, e.g. ``siamcl__ohlcv_padic__v2__s0.npz``."""
    return f"{method}__{features.replace('+', '_')}__{rebalance}__s{seed}.npz"


class CellStore:
    """The ``cells/`` folder of a report: one file per finished (method, features, rebalance, seed)."""

    def __init__(self, folder: str | os.PathLike, before_first_save: Callable[[], None] | None = None) -> None:
        self.folder = Path(folder)
        self._before_first_save = before_first_save  # e.g. the report's config.toml, once data passed every check

    def save(self, cell: CellResult) -> Path:
        """Write ``cell`` atomically (the folder is made on the first save)."""
        if self._before_first_save is not None:
            self._before_first_save()
            self._before_first_save = None
        self.folder.mkdir(parents=True, exist_ok=True)
        fields = {f.name: getattr(cell, f.name) for f in dataclasses.fields(cell) if f.name not in _ARRAYS}
        arrays = {k: getattr(cell, k) for k in _ARRAYS if getattr(cell, k) is not None}
        arrays["fields"] = np.array(json.dumps(json_ready(fields)))
        path = self.folder / cell_file(cell.method, cell.features, cell.rebalance, cell.seed)
        return atomic_write(path, lambda fh: np.savez(fh, **arrays), mode="wb")

    def load(self, method: str, features: str, rebalance: str, seed: int) -> CellResult | None:
        """The saved cell, or None when it is not there. ValueError naming a file that does not read."""
        path = self.folder / cell_file(method, features, rebalance, seed)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                fields = json.loads(str(z["fields"]))
                arrays = {k: np.asarray(z[k]) for k in _ARRAYS if k in z.files}
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(
                f"{path} is not a readable report cell ({err}); delete it to run that cell again"
            ) from None
        arrays.setdefault("projection", None)
        arrays.setdefault("test_threshold", None)
        return CellResult(**fields, **arrays)

    def subfolder(self, name: str) -> CellStore:
        """The store of one part of the report (a walk-forward fold: ``cells/fold1``), sharing the
        first-save hook."""
        return CellStore(self.folder / name, self._before_first_save)

    def count(self) -> int:
        """How many cells are saved (walk-forward folds' cells included)."""
        return len(list(self.folder.rglob("*.npz"))) if self.folder.is_dir() else 0
