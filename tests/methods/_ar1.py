"""A task with signal for series methods that compare stretches of one series with other series:
AR(1) series x_t = phi x_{t-1} + e_t, each with its own phi ~ U(-0.9, 0.9), z-normalised per
series (so the level and scale say nothing); a ridge probe on the frozen features recovers phi.

    X_train, phi_train, X_test, phi_test = ar1_task()
    trained, random = ar1_trained_vs_random(method, X_train, ...)   # test R^2 of phi, both
"""

import copy

import numpy as np
import torch
from sklearn.linear_model import RidgeCV

from tsssl.train import Trainer


def ar1_series(n: int, T: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, T, 1) float32 z-normalised, phi (n,)): a 50-step burn-in is dropped."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-0.9, 0.9, n)
    e = rng.normal(size=(n, T + 50))
    x = np.zeros_like(e)
    for t in range(1, T + 50):  # over time steps, all series at once
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    x = x[:, 50:]
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return x[:, :, None].astype(np.float32), phi


def ar1_task(n: int = 256, T: int = 32):
    return (*ar1_series(n, T, 0), *ar1_series(n, T, 1))


def probe_r2(encoder, X_train, phi_train, X_test, phi_test) -> float:
    """Test R^2 of a ridge regression (alpha by CV) of phi on the frozen features."""
    encoder.eval()
    with torch.no_grad():
        z_train, z_test = encoder(torch.as_tensor(X_train)).numpy(), encoder(torch.as_tensor(X_test)).numpy()
    return float(RidgeCV(alphas=np.logspace(-3, 3, 7)).fit(z_train, phi_train).score(z_test, phi_test))


def ar1_trained_vs_random(method, steps: int = 60, seed: int = 0) -> tuple[float, float]:
    """(probe R^2 of ``method.encoder`` after ``steps`` steps at batch 64, lr 1e-2; of the same encoder untrained)."""
    task = ar1_task()
    random_r2 = probe_r2(copy.deepcopy(method.encoder), *task)
    Trainer(max_steps=steps, batch_size=64, lr=1e-2, seed=seed, device="cpu", progress=False).fit(
        method, (torch.as_tensor(task[0]),)
    )
    return probe_r2(method.encoder, *task), random_r2
