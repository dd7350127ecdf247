"""experiments/quickstart.ipynb runs end to end (nbclient, the venv's python3 kernel, the CPU).

The notebook reads its size from TSSSL_NB_* environment variables; the kernel inherits this
process's environment, so the test runs it with a few optimiser steps and bootstrap replicates.
Its numbers are then meaningless: the test checks that every cell ran, that the metrics cell
printed a line per model with precision, base rate and lift, that the printed base rate is the
test windows' own, and that the plots were drawn.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.ipynb"
TINY = {
    "TSSSL_NB_MAX_STEPS": "4",
    "TSSSL_NB_BATCH_SIZE": "64",
    "TSSSL_NB_HIDDEN": "8",
    "TSSSL_NB_N_BOOT": "20",
    "TSSSL_NB_SEED": "0",
    "TSSSL_NB_DEVICE": "cpu",
    "OMP_WAIT_POLICY": "PASSIVE",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


def _text(cell) -> str:
    """Everything a code cell printed (streams and text/plain results)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cell"
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import os

    nb = nbformat.read(NOTEBOOK, as_version=4)
    old = {k: os.environ.get(k) for k in TINY}
    os.environ.update(TINY)  # the kernel is started with a copy of this environment
    try:
        client = nbclient.NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}}
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def test_every_cell_ran_without_error(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    assert "'max_steps': 4" in _text(code[0])  # the tiny configuration reached the kernel


def test_metrics_are_printed_for_each_model_with_the_test_base_rate(executed):
    import tsssl

    line = re.compile(
        r"^(SiamCL \+ probe|untrained encoder \+ probe|supervised LSTM)\s+precision (\S+) "
        r"\[(\S+), (\S+)\]\s+recall (\S+)\s+PR-AUC (\S+)\s+base rate (\d+\.\d)%\s+lift (\S+)x"
        r"\s+flagged (\d+) of (\d+)$",
        re.MULTILINE,
    )
    texts = [_text(c) for c in executed.cells if c.cell_type == "code"]
    found = [m for t in texts for m in line.finditer(t)]
    assert sorted(m.group(1) for m in found) == ["SiamCL + probe", "supervised LSTM", "untrained encoder + probe"]

    # the printed base rate and test size are those of the notebook's split, computed here
    ws = tsssl.data.build_windows(tsssl.data.load_sample(), window=20, horizon=5)
    test = tsssl.data.chronological_split(ws, test_frac=0.2).test
    for m in found:
        assert float(m.group(7)) == pytest.approx(100 * test.y.mean(), abs=0.051)
        assert int(m.group(10)) == len(test)
        flagged = int(m.group(9))
        assert 0 <= flagged <= len(test)
        precision = m.group(2)
        assert (precision == "n/a") == (flagged == 0)
        if flagged:
            assert 0.0 <= float(precision.rstrip("%")) <= 100.0
    paired = "\n".join(texts)
    assert re.search(r"SiamCL \+ probe minus supervised LSTM, precision: ", paired)
    assert re.search(r"saved and reloaded: max \|difference\| of the test representations = 0\b", paired)


def test_plots_were_drawn(executed):
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # PR curves, PCA projections, loss curves
    assert all(len(o["data"]["image/png"]) > 1000 for o in images)


def test_results_table_is_rendered(executed):
    html = [
        o["data"]["text/html"]
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]
    assert any("precision on a 1:1 test set (NOT the real precision)" in h for h in html)
    assert any("lift [95% CI]" in h for h in html)
    assert np.all([h.count("<tr>") >= 10 for h in html if "lift [95% CI]" in h])
