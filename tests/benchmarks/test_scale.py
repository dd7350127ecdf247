"""benchmarks/scale.py: a tiny real run goes through every phase on views and writes its record."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_goes_through_every_phase(scale, tmp_path, capsys):
    path = tmp_path / "scale.json"
    assert (
        scale.main(["--tickers", "5", "--days", "300", "--steps", "3", "--batch-size", "16", "--json", str(path)]) == 0
    )
    record = json.loads(path.read_text())
    phases = [row["phase"] for row in record["phases"]]
    assert phases == [
        "market (rows)",
        "build (views)",
        "split",
        "rebalance v2",
        "rebalance v1",
        "channel stats",
        "train",
    ]
    assert record["windows"] == 5 * (300 - 20 - 5) and record["price_rows"] == 1500
    assert record["views_nbytes_gib"] < record["dense_x_gib"] / 5
    assert record["phases"][-1]["windows"] == 3 * 16 and record["final_loss"] is not None
    assert record["v1_windows"] < record["train_windows"] < record["v2_windows"]
    assert "v3 would materialise" in record["v3"]
    assert "views hold" in capsys.readouterr().out


def test_bad_sizes_exit_with_a_message(scale, capsys):
    with pytest.raises(SystemExit) as err:
        scale.main(["--tickers", "0"])
    assert err.value.code == 2 and "--tickers must be >= 1" in capsys.readouterr().err
