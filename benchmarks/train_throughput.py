"""Training throughput (windows/s) and peak memory per method x encoder x batch size x precision.

    python -m benchmarks.train_throughput [--methods siamcl cpc] [--encoders lstm cnn transformer]
        [--batch-sizes 512 4096] [--precision fp32 bf16] [--steps 20] [--device cpu cuda] [--json PATH]

The same measurement as ``tsssl bench`` (see ``tsssl/bench.py``): each case is built as
``tsssl train`` builds it and trained through the real ``tsssl.Trainer`` on the 20-day windows
(horizon 5) of the bundled sample (or ``--data synthetic``), the windows resident on the device;
the time is taken after ``--warmup`` steps, with the device synchronised, over ``--steps``
steps. Peak memory: CUDA ``max_memory_allocated`` (reset per case) and the process's peak RSS
(reset per case on Linux). Cases run on the CPU and, when present, on CUDA. An encoder may carry
sizes, e.g. ``lstm:hidden=128,layers=2`` or ``cnn:channels=64``.

Measured (2026-11-23, 2-core AMD EPYC CPU dev box shared with other jobs, torch 2.13.0+cpu,
OMP_WAIT_POLICY=PASSIVE; median of 3 runs, load average 0.4-1.5), batch 512, fp32:

  step                                   windows/s
  SiamCL, LSTM 1 x 32 (tsssl's default)      7,531
  SimCLR, LSTM 2 x 128                         886
  SimCLR, dilated CNN 3 x 64 channels        1,706

(3,013 / 302 / 527 on the same box under a load average of 7-9.) All figures, the commands,
the other methods / encoders / batch sizes / precisions and the probe-quality comparison:
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """``tsssl bench`` with these arguments (the same parser, checks and output)."""
    from tsssl.cli import main as tsssl_main

    return tsssl_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
