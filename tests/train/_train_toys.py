"""Toy methods and data for the Trainer tests (an importable module: the DDP workers, spawned
processes, import it by name)."""

from __future__ import annotations

import copy
import random

import numpy as np
import torch
from torch import nn

from tsssl.methods.base import Method

D_IN = 4
TRUE_W = torch.tensor([1.0, -2.0, 0.5, 3.0])


def regression_data(n: int = 96, seed: int = 0, noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """x: (n, 4) standard normal; y = x @ TRUE_W + 0.5 + noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D_IN, generator=g)
    y = x @ TRUE_W + 0.5 + noise * torch.randn(n, generator=g)
    return x, y


class LinearRegression(Method):
    """MSE of a linear model: a loss that is a mean over the batch (the DDP reference)."""

    def __init__(self, d_in: int = D_IN) -> None:
        super().__init__()
        self.encoder = nn.Linear(d_in, 1)

    def training_step(self, batch):
        x, y = batch
        return ((self.encoder(x).squeeze(-1) - y) ** 2).mean()


class NoisyRegression(Method):
    """An MLP regression that draws from every global RNG each step: a random input scaling
    (Python ``random``), a random shift (numpy), input noise (torch) and dropout (torch)."""

    def __init__(self, d_in: int = D_IN, hidden: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Linear(hidden, 1)

    def training_step(self, batch):
        x, y = batch
        x = x * random.uniform(0.9, 1.1) + float(np.random.normal()) * 0.01
        x = x + 0.05 * torch.randn_like(x)
        return ((self.head(self.encoder(x)).squeeze(-1) - y) ** 2).mean()


class MomentumRegression(Method):
    """Online (Linear + BatchNorm) regressor with an EMA target copy used (without gradient)
    as a consistency term."""

    base_momentum = 0.9

    def __init__(self, d_in: int = D_IN) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, 3), nn.BatchNorm1d(3))
        self.head = nn.Linear(3, 1)
        self.target = copy.deepcopy(self.encoder)  # the Trainer freezes it

    def momentum_pairs(self):
        return [(self.encoder, self.target)]

    def training_step(self, batch):
        x, y = batch
        z = self.encoder(x)
        with torch.no_grad():
            zt = self.target(x)
        return ((self.head(z).squeeze(-1) - y) ** 2).mean() + 0.1 * ((z - zt) ** 2).mean()


class NaNAt(LinearRegression):
    """LinearRegression whose loss is NaN at the 1-based step ``bad_step`` (a Python counter)."""

    def __init__(self, bad_step: int) -> None:
        super().__init__()
        self.bad_step, self.calls = bad_step, 0

    def training_step(self, batch):
        self.calls += 1
        loss = super().training_step(batch)
        return loss * float("nan") if self.calls == self.bad_step else loss


class Recorder(LinearRegression):
    """LinearRegression that keeps a copy of every batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[torch.Tensor, ...]] = []

    def training_step(self, batch):
        self.batches.append(tuple(t.detach().clone() for t in batch))
        return super().training_step(batch)


class PairDataset(torch.utils.data.Dataset):
    """A map-style Dataset over (x, y) rows."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def params(method: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in method.state_dict().items()}
