"""tsssl.bench: encoder specs, the checked grid of cases, the step timer, peak memory, and a
failing case reported as a row while the others run."""

import numpy as np
import pytest
import torch

from tsssl import bench
from tsssl.config import DEFAULT_ENCODER_KWARGS


def test_encoder_spec_defaults_and_overrides():
    assert bench.parse_encoder_spec("lstm") == ("lstm", DEFAULT_ENCODER_KWARGS["lstm"])
    name, sizes = bench.parse_encoder_spec("LSTM:hidden=128, layers=2,dropout=0.1,bidirectional=false")
    assert name == "lstm"
    assert sizes == {"hidden": 128, "layers": 2, "dropout": 0.1, "bidirectional": False}
    assert bench.parse_encoder_spec("cnn:channels=64")[1] == {**DEFAULT_ENCODER_KWARGS["cnn"], "channels": 64}
    assert (
        bench.Case("simclr", "lstm", sizes).encoder_label == "lstm(hidden=128,layers=2,dropout=0.1,bidirectional=False)"
    )
    with pytest.raises(ValueError, match="unknown encoder 'gru'.*lstm, cnn, transformer"):
        bench.parse_encoder_spec("gru")
    with pytest.raises(ValueError, match="'hidden' in 'lstm:hidden' is not key=value"):
        bench.parse_encoder_spec("lstm:hidden")


def test_make_cases_is_the_full_grid_and_checks_every_value():
    cases = bench.make_cases(["siamcl", "cpc"], ["lstm", "cnn:channels=8"], [32, 64], ["fp32", "bf16"], ["cpu"])
    assert len(cases) == 2 * 2 * 2 * 2
    assert {(c.method, c.encoder, c.batch_size, c.precision) for c in cases} == {
        (m, e, b, p) for m in ("siamcl", "cpc") for e in ("lstm", "cnn") for b in (32, 64) for p in ("fp32", "bf16")
    }
    assert all(c.device == "cpu" for c in cases)
    for args, message in [
        ((["simclr2"], ["lstm"], [32], ["fp32"]), "--methods: 'simclr2' not accepted"),
        ((["siamcl"], ["lstm:hiden=4"], [32], ["fp32"]), "--encoders: .*hiden.*accepted: hidden"),
        ((["siamcl"], ["lstm:hidden=-4"], [32], ["fp32"]), "--encoders: .*hidden"),
        ((["siamcl"], ["lstm"], [1], ["fp32"]), "--batch-sizes: \\[1\\] not accepted"),
        ((["siamcl"], ["lstm"], [32], ["fp8"]), "--precision: 'fp8' not accepted"),
        ((["siamcl"], ["lstm"], [], ["fp32"]), "--batch-sizes: give at least one value"),
    ]:
        with pytest.raises(ValueError, match=message):
            bench.make_cases(*args, ["cpu"])
    with pytest.raises(ValueError, match="device='gpu' is not a device"):
        bench.make_cases(["siamcl"], ["lstm"], [32], ["fp32"], ["gpu"])
    if not torch.cuda.is_available():
        assert bench.resolve_devices(None) == ["cpu"]
        with pytest.raises(ValueError, match="CUDA is not available"):
            bench.make_cases(["siamcl"], ["lstm"], [32], ["fp32"], ["cuda"])
        with pytest.raises(ValueError, match="fp16 needs CUDA"):
            bench.make_cases(["siamcl"], ["lstm"], [32], ["fp16"], None)


def test_step_timer_times_only_the_steps_after_the_warmup(monkeypatch):
    clock = iter([10.0, 13.5, 99.0])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    timer = bench.StepTimer(warmup=2, steps=3, device=torch.device("cpu"))
    timer.on_fit_start({})
    for step in range(1, 6):  # reads the clock at the end of step 2 and of step 5 only
        timer.on_step_end(step)
    assert timer.seconds == 3.5
    unfinished = bench.StepTimer(warmup=1, steps=4, device=torch.device("cpu"))
    unfinished.on_step_end(1)
    with pytest.raises(RuntimeError, match="before the timed steps were done"):
        _ = unfinished.seconds


def _tiny_windows(n=96, T=20, C=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, C)).astype(np.float32)
    y = (rng.random(n) < 0.3).astype(np.int64)
    from tsssl.methods import channel_stats

    return bench.BenchWindows(X, y, [f"f{i}" for i in range(C)], "tiny", channel_stats(X))


def test_measured_row_through_the_trainer_and_a_failing_case(monkeypatch):
    windows = _tiny_windows()
    cases = bench.make_cases(["siamcl", "lstm"], ["cnn:channels=8,layers=1"], [32], ["fp32"], ["cpu"])
    real_measure = bench.measure

    def measure(case, *args, **kwargs):
        if case.method == "lstm":
            raise RuntimeError("no kernel for this case\nsecond line")
        return real_measure(case, *args, **kwargs)

    monkeypatch.setattr(bench, "measure", measure)
    seen = []
    rows = bench.run_cases(cases, windows, steps=3, warmup=1, on_row=seen.append)
    assert seen == rows and len(rows) == 2
    ok, failed = rows
    assert set(ok) == set(failed) == set(bench.ROW_KEYS)
    assert ok["error"] is None and ok["steps"] == 3 and ok["warmup_steps"] == 1
    assert ok["windows_per_s"] == pytest.approx(3 * 32 / ok["seconds"])
    assert ok["seconds"] > 0 and ok["peak_rss_mib"] > 0 and ok["parameters"] > 0
    assert np.isfinite(ok["final_loss"]) and ok["peak_cuda_mib"] is None
    assert failed["error"] == "RuntimeError: no kernel for this case"
    assert failed["windows_per_s"] is None and failed["method"] == "lstm"
    assert "failed: RuntimeError: no kernel" in bench.format_row(failed)
    with pytest.raises(ValueError, match="--steps must be an integer >= 1"):
        bench.run_cases(cases, windows, steps=0)
    with pytest.raises(ValueError, match="larger than the 96 windows"):
        real_measure(bench.Case("siamcl", "lstm", {"hidden": 4}, batch_size=128), windows)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_cases_report_peak_cuda_memory():
    windows = _tiny_windows(n=256)
    cases = bench.make_cases(["siamcl", "cpc"], ["cnn:channels=8,layers=1"], [64], ["fp32", "bf16"], ["cuda"])
    assert all(c.device.startswith("cuda") for c in cases)
    rows = bench.run_cases(cases, windows, steps=3, warmup=1)
    for row in rows:
        assert row["error"] is None, row["error"]
        assert row["windows_per_s"] > 0 and row["peak_cuda_mib"] > 0 and np.isfinite(row["final_loss"])
    info = bench.machine_info([c.device for c in cases])
    assert info["cuda_devices"] and info["cuda_version"]
