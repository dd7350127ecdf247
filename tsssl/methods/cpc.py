"""CPC (van den Oord et al., 2018): "Representation Learning with Contrastive Predictive Coding".

Algorithm (one step)::

    x = batch[0]                              # (B, T, C) windows
    z = g_enc(x)                              # per-step encodings z_t: (B, T, D)
    c = g_ar(z)                               # autoregressive context c_t (GRU / LSTM): (B, T, H)
    pick context positions t with t + K < T   # a few random t per step, shared by the batch
    for k = 1..K:  zhat_{t+k} = W_k c_t       # k-step-ahead linear predictors
    loss = InfoNCE(zhat, keys = z at every picked target step of every window)
           # positive: z_{t+k} of the same window; negatives: the other windows' encodings
           # and the other time steps' encodings in the batch

The representation for downstream use is the context at the window's end, c_{T-1}:
``self.encoder`` is a :class:`CPCContextEncoder` mapping (B, T, C) -> (B, H). The step encoder
must be causal (a unidirectional LSTM, a causal CNN): otherwise z_t already sees the future it
is asked to predict.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tsssl.losses import info_nce
from tsssl.methods.base import Method, TwoViewFn, first_view, split_batch

CONTEXTS = ("gru", "lstm")


class CPCContextEncoder(nn.Module):
    """x: (B, T, C) -> c_{T-1}: (B, context_dim), or every c_t: (B, T, context_dim).

    ``step_encoder`` maps (B, T, C) to per-step encodings with ``return_sequence=True``;
    ``rnn`` summarises z_{<=t} into c_t.
    """

    def __init__(self, step_encoder: nn.Module, context_dim: int, context: str = "gru") -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"CPC: unknown context {context!r}; accepted: {', '.join(CONTEXTS)}")
        rnn = nn.GRU if context == "gru" else nn.LSTM
        self.step_encoder = step_encoder
        self.rnn = rnn(step_encoder.out_dim, context_dim, batch_first=True)
        self.out_dim = context_dim

    def steps(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(z, c): per-step encodings (B, T, D) and contexts (B, T, H)."""
        z = self.step_encoder(x, return_sequence=True)
        c, _ = self.rnn(z)
        return z, c

    def forward(self, x: Tensor, return_sequence: bool = False) -> Tensor:
        _, c = self.steps(x)
        return c if return_sequence else c[:, -1]


def cpc_positive_mask(batch_size: int, context_positions: Tensor, n_predictions: int) -> tuple[Tensor, Tensor]:
    """Which key is each prediction's positive.

    context_positions: (n_t,) time steps t; predictions run over (window b, position i, k)
    in that order, flattened to B * n_t * K rows. Keys are the encodings z[b, P[j]] of every
    window b at the target steps P = sorted unique {t + k}, flattened to B * |P| columns in
    (b, j) order. Returns (mask (B*n_t*K, B*|P|) bool with exactly one True per row,
    P (|P|,) long).
    """
    device = context_positions.device
    ks = torch.arange(1, n_predictions + 1, device=device)
    target = context_positions[:, None] + ks[None, :]  # (n_t, K): t + k
    steps = torch.unique(target)  # sorted P
    j = torch.searchsorted(steps, target)  # (n_t, K) column in P
    cols = torch.arange(batch_size, device=device)[:, None, None] * len(steps) + j[None]  # (B, n_t, K)
    rows = torch.arange(cols.numel(), device=device)
    mask = torch.zeros(cols.numel(), batch_size * len(steps), dtype=torch.bool, device=device)
    mask[rows, cols.reshape(-1)] = True
    return mask, steps


class CPC(Method):
    """Contrastive predictive coding on windows.

    encoder: the per-step encoder (``encoder(x, return_sequence=True)`` -> (B, T, D), with
    ``out_dim`` D); ``context`` "gru" or "lstm" of ``context_dim`` (default D) units;
    ``n_predictions`` K steps ahead; ``n_context`` context positions t drawn per step among
    ``min_context - 1 <= t <= T - 1 - K``; cosine similarity over ``temperature``. ``views``
    (optional, default none): when given, the first view of each window is encoded.
    """

    causal_encoder = True  # z_t must not see the steps t + 1..t + K it is asked to predict

    def __init__(
        self,
        encoder: nn.Module,
        views: TwoViewFn | None = None,
        *,
        context_dim: int | None = None,
        context: str = "gru",
        n_predictions: int = 4,
        n_context: int = 1,
        min_context: int = 4,
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        if n_predictions < 1 or n_context < 1 or min_context < 1:
            raise ValueError(
                f"CPC: n_predictions, n_context and min_context must be >= 1, got "
                f"{n_predictions}, {n_context}, {min_context}"
            )
        if getattr(encoder, "bidirectional", False) or not getattr(encoder, "causal", True):
            warnings.warn(
                f"CPC: the step encoder {type(encoder).__name__} is not causal; its z_t sees the "
                "future steps that CPC asks the context to predict",
                stacklevel=2,
            )
        self.encoder = CPCContextEncoder(encoder, context_dim or encoder.out_dim, context)
        # W_1..W_K stacked in one linear map: rows k*D:(k+1)*D are W_{k+1}
        self.predictors = nn.Linear(self.encoder.out_dim, n_predictions * encoder.out_dim)
        self.views = views
        self.n_predictions, self.n_context, self.min_context = n_predictions, n_context, min_context
        self.temperature = temperature

    def predict(self, c: Tensor) -> Tensor:
        """c: (..., H) -> (..., K, D): zhat_{t+k} = W_k c_t for k = 1..K."""
        return self.predictors(c).unflatten(-1, (self.n_predictions, -1))

    def context_positions(self, T: int, device: torch.device | str | None = None) -> Tensor:
        """Up to ``n_context`` distinct random t with t + K < T, sorted."""
        hi = T - 1 - self.n_predictions
        if hi < 0:
            raise ValueError(
                f"CPC: a window of {T} steps is too short to predict {self.n_predictions} steps "
                f"ahead; use n_predictions < {T}"
            )
        lo = min(self.min_context - 1, hi)
        if self.n_context == 1:  # one draw, no sort: a single kernel that a CUDA graph can hold
            return torch.randint(lo, hi + 1, (1,), device=device)
        choice = torch.randperm(hi - lo + 1, device=device)[: self.n_context]
        return torch.sort(choice + lo).values

    def training_step(self, batch: Sequence[Tensor]) -> Tensor:
        x, _ = split_batch(batch)
        x = first_view(self.views, x)
        z, c = self.encoder.steps(x)  # (B, T, D), (B, T, H)
        B, T, D = z.shape
        ts = self.context_positions(T, z.device)
        if len(ts) == 1:
            # One context position t: the target steps t+1..t+K are distinct, so the keys are the
            # encodings z[b, t+k] in (b, k) order, the same order as the predictions: prediction r's
            # positive is key r. The diagonal form of info_nce is then the same loss as the mask form
            # below, without the (B K)^2 mask and without torch.unique (a host sync), so the step can
            # be captured in a CUDA graph. gather=False: CPC's negatives stay the local batch.
            K = self.n_predictions
            steps = ts + torch.arange(1, K + 1, device=z.device)  # (K,)
            queries = self.predict(c.index_select(1, ts)).reshape(-1, D)  # (B * K, D)
            keys = z.index_select(1, steps).reshape(-1, D)  # (B * K, D)
            return info_nce(queries, keys, None, temperature=self.temperature, gather=False)
        mask, steps = cpc_positive_mask(B, ts, self.n_predictions)
        queries = self.predict(c[:, ts]).reshape(-1, D)  # (B * n_t * K, D)
        keys = z[:, steps].reshape(-1, D)  # (B * |P|, D)
        return info_nce(queries, keys, mask, temperature=self.temperature)
