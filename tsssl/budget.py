"""The training budget chosen from the data when a run leaves it open (docs/design.md, "Budget").

    auto_budget(n=36)      # Budget(batch_size=8, max_steps=200, epochs=None, ...)
    auto_budget(n=8000)    # Budget(batch_size=512, max_steps=200, ...)

The rule, for ``n`` training series (windows) and whatever the caller fixed itself:

- **batch size**: the largest power of two not above n / 8, kept within [8, 512] and never
  above n. Sets under 128 series train at batch 8, the batch of TS2Vec's own UCR / UEA runs
  (its ``train.py``), those of 128-255 at 16 (the ``TS2Vec`` class's default), a set of 8,000
  price windows at 512, as the package's earlier fixed default did. The floor was 16 until
  2026-12; 8 on the small sets kept the accuracy of ``benchmarks.classification`` and halved
  their fit (benchmarks/RESULTS.md).
- **a method's cap**: a method whose loss draws many pairs from each series may cap the batch
  (``max_batch``, from its registry entry): the hierarchical method's temporal and instance
  terms contrast every time step, so TS2Vec trains it at batch 8 on every set, and so does
  ``TSSSLEncoder(method="hierarchical")`` (capped at 8: OSULeaf's 200 series and 8,000 price
  windows alike).
- **length**: ten passes over the data, but at least 200 and at most 600 optimiser steps.
  TS2Vec trains 200 iterations on small sets and 600 on large ones; ten epochs of 36 series at
  batch 8 would be 45 steps, too few for any encoder, and ten epochs of 20 million windows too
  many for a default.

A budget given by the caller is kept: ``epochs`` alone trains that many epochs (no step
floor), ``max_steps`` alone that many steps, ``batch_size`` that batch (capped at n). No torch
here: the CLI and the config read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tsssl.checks import check_positive

AUTO_EPOCHS = 10
MIN_STEPS, MAX_STEPS = 200, 600
MIN_BATCH, MAX_BATCH = 8, 512


@dataclass(frozen=True)
class Budget:
    """A run's length: ``batch_size`` windows per step, ``max_steps`` optimiser steps and/or
    ``epochs`` passes (the Trainer stops at whichever comes first); ``chosen``: the names of the
    values the rule picked (the rest were given); ``rule``: one line saying how."""

    batch_size: int
    max_steps: int | None
    epochs: int | None
    chosen: tuple[str, ...]
    rule: str

    def trainer_kwargs(self) -> dict[str, int | None]:
        """The Trainer's batch_size, max_steps and epochs."""
        return {"batch_size": self.batch_size, "max_steps": self.max_steps, "epochs": self.epochs}

    def describe(self) -> str:
        """One line for a run's summary, e.g. "200 steps at batch 16 (auto: ...)"."""
        length = f"{self.max_steps} steps" if self.max_steps is not None else f"{self.epochs} epochs"
        if self.max_steps is not None and self.epochs is not None:
            length = f"{self.epochs} epochs, at most {self.max_steps} steps"
        said = f"{length} at batch {self.batch_size}"
        if not self.chosen:
            return said + " (as given)"
        return f"{said} (chosen from the data: {', '.join(self.chosen)}; {self.rule})"


def auto_batch_size(n: int, max_batch: int | None = None) -> int:
    """Batch size for ``n`` training series: the power of two <= n / 8 within [8, 512], <= n, and
    at most ``max_batch`` (a method's cap; None: none)."""
    _check_n(n)
    check_positive(max_batch, "max_batch", allow_none=True)
    power = 2 ** int(math.floor(math.log2(max(n / 8, 1))))
    batch = max(MIN_BATCH, min(MAX_BATCH, power))
    return int(min(n, batch if max_batch is None else min(batch, max_batch)))


def auto_steps(n: int, batch_size: int) -> int:
    """Optimiser steps for ``n`` series at ``batch_size``: 10 epochs within [200, 600] steps."""
    _check_n(n)
    steps_per_epoch = max(1, n // max(1, min(batch_size, n)))
    return int(min(MAX_STEPS, max(MIN_STEPS, AUTO_EPOCHS * steps_per_epoch)))


def auto_budget(
    n: int,
    *,
    batch_size: int | None = None,
    max_steps: int | None = None,
    epochs: int | None = None,
    max_batch: int | None = None,
) -> Budget:
    """The budget of a run on ``n`` training series; the values given are kept (batch capped at n),
    the ones left None are chosen by the rule of this module's docstring (``max_batch``: the
    method's cap on a chosen batch; a given ``batch_size`` is kept above it)."""
    _check_n(n)
    check_positive(max_batch, "max_batch", allow_none=True)  # also when a given batch leaves it unused
    for name, value in (("batch_size", batch_size), ("max_steps", max_steps), ("epochs", epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive int or None (chosen from the data), got {value!r}")
    chosen: list[str] = []
    if batch_size is None:
        batch_size = auto_batch_size(n, max_batch)
        chosen.append("batch_size")
    batch_size = max(1, min(int(batch_size), n))
    if max_steps is None and epochs is None:
        max_steps = auto_steps(n, batch_size)
        chosen.append("max_steps")
    cap = "" if max_batch is None else f", at most {max_batch} for this method"
    rule = (
        f"n = {n} training samples: batch = power of two <= n/8 in [{MIN_BATCH}, {MAX_BATCH}]{cap}; "
        f"steps = {AUTO_EPOCHS} epochs within [{MIN_STEPS}, {MAX_STEPS}]"
    )
    return Budget(batch_size, max_steps, epochs, tuple(chosen), rule)


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of training series must be a positive int, got {n!r}")
