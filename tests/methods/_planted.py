"""A task with signal for window methods: the planted-motif synthetic market (a motif planted
before strict rises), and the probe that reads it (shared by the method tests).

    split = planted_split()
    trained, random = trained_vs_random("nnclr", split, steps=60)   # PR-AUC of the probe, both
"""

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from tsssl.data import build_windows, chronological_split, synthetic_market
from tsssl.methods import channel_stats
from tsssl.pipeline import make_window_method
from tsssl.train import Trainer


def planted_split(strength: float = 0.01):
    """6 tickers x 700 days, a faint motif planted before strict rises; 30% of the dates for test.
    At 0.01 an untrained LSTM's probe reads it only partly (PR-AUC about 0.22, base rate 0.05) and
    60 steps of SiamCL or BYOL lift it to about 0.27: room to tell a representation from a random one."""
    prices = synthetic_market(n_tickers=6, n_days=700, seed=3, planted_pattern=strength)
    return chronological_split(build_windows(prices, window=20, horizon=5), test_frac=0.3)


def probe_pr_auc(encoder, split) -> float:
    """PR-AUC on the test windows of a class-balanced logistic regression on the frozen representations."""
    encoder.eval()
    with torch.no_grad():
        z_train = encoder(torch.as_tensor(split.train.X)).numpy()
        z_test = encoder(torch.as_tensor(split.test.X)).numpy()
    probe = LogisticRegression(class_weight="balanced", max_iter=2000).fit(z_train, split.train.y)
    return float(average_precision_score(split.test.y, probe.predict_proba(z_test)[:, 1]))


def trained_vs_random(name, split, steps=60, batch_size=256, lr=3e-3, seed=0, **method_kwargs):
    """(probe PR-AUC of the method ``name`` trained ``steps`` steps, of the same encoder untrained):
    the method built as the CLI builds it (standardised inputs, default views), LSTM encoder of 32."""
    torch.manual_seed(seed)
    X = split.train.X
    method = make_window_method(name, X.shape[2], encoder="lstm", encoder_kwargs={"hidden": 32},
                                method_kwargs=method_kwargs, standardize=channel_stats(X),
                                labels=split.train.y)  # fmt: skip
    random_auc = probe_pr_auc(__import__("copy").deepcopy(method.encoder), split)
    Trainer(max_steps=steps, batch_size=batch_size, lr=lr, seed=seed, device="cpu", progress=False).fit(
        method, split.train
    )
    return probe_pr_auc(method.encoder, split), random_auc, float(np.mean(split.test.y))
