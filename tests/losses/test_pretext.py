"""binary_pretext and next_step_prediction against naive loop references in float64 (values and
gradients), their argument checks, and float32 under autocast."""

import math

import pytest
import torch

from tsssl.losses.pretext import binary_pretext, next_step_prediction


def naive_binary(logits, positive):
    total = 0.0
    for s, y in zip(logits, positive):
        p = 1 / (1 + torch.exp(-s))
        total = total - (torch.log(p) if y else torch.log(1 - p))
    return total / len(logits)


def naive_next_step(pred, x, log_var=None, context_from=0):
    B, T, K, C = pred.shape
    total, count = 0.0, 0
    for b in range(B):
        for t in range(context_from, T):
            for k in range(1, K + 1):
                if t + k >= T:
                    continue
                for c in range(C):
                    sq = (x[b, t + k, c] - pred[b, t, k - 1, c]) ** 2
                    if log_var is None:
                        total = total + sq
                    else:
                        lv = log_var[b, t, k - 1, c]
                        total = total + 0.5 * (lv + sq / torch.exp(lv))
                    count += 1
    return total / count


def leaves(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def compare(fast, ref, params):
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(torch.autograd.grad(fast, params), torch.autograd.grad(ref, params)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_binary_pretext_matches_naive_cross_entropy():
    (s,) = leaves((9,))
    y = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0, 1], dtype=torch.bool)
    compare(binary_pretext(s, y), naive_binary(s, y), [s])
    compare(binary_pretext(s, y.long()), naive_binary(s, y), [s])
    # chance: log 2; large logits stay finite (softplus, not log of a probability)
    assert math.isclose(binary_pretext(torch.zeros(4), torch.tensor([1, 0, 1, 0])).item(), math.log(2), rel_tol=1e-6)
    big = binary_pretext(torch.tensor([200.0, -200.0]), torch.tensor([0, 1]))
    assert torch.isfinite(big) and math.isclose(big.item(), 200.0, rel_tol=1e-6)


@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize("context_from", [0, 3])
def test_next_step_prediction_matches_a_loop(gaussian, context_from):
    B, T, K, C = 3, 7, 2, 2
    pred, x, lv = leaves((B, T, K, C), (B, T, C), (B, T, K, C), seed=1)
    fast = next_step_prediction(pred, x, lv if gaussian else None, context_from=context_from)
    ref = naive_next_step(pred, x, lv if gaussian else None, context_from)
    compare(fast, ref, [pred, x, lv] if gaussian else [pred, x])


def test_next_step_prediction_is_zero_for_a_perfect_forecast_and_ignores_unused_slots():
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    pred = torch.full((2, 6, 2, 3), float("nan"), dtype=torch.float64)  # slots past the window: NaN
    for k in (1, 2):
        pred[:, : 6 - k, k - 1] = x[:, k:]
    assert next_step_prediction(pred, x).item() == 0.0


def test_float32_under_autocast_and_argument_checks():
    pred, x = torch.randn(2, 5, 1, 3), torch.randn(2, 5, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert next_step_prediction(pred.bfloat16(), x.bfloat16()).dtype == torch.float32
        assert binary_pretext(torch.randn(4).bfloat16(), torch.ones(4)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, C\) = \(2, 5, 3\)"):
        next_step_prediction(pred, x[:, :4])
    with pytest.raises(ValueError, match="log_var"):
        next_step_prediction(pred, x, pred[:, :, :, :2])
    with pytest.raises(ValueError, match="context_from"):
        next_step_prediction(pred, x, context_from=4)
    with pytest.raises(ValueError, match="pred must be a 4-D Tensor"):
        next_step_prediction(x, x)
    with pytest.raises(ValueError, match="logits and positive must have the same shape"):
        binary_pretext(torch.zeros(3), torch.ones(4))
    with pytest.raises(ValueError, match="logits must be a non-empty"):
        binary_pretext(torch.zeros(0), torch.ones(0))
