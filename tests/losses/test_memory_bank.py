"""InstDisc's memory-bank losses against naive loop references of the paper's formulas (float64,
values and gradients), and the MemoryBank state (sizes, momentum update, state_dict)."""

import math

import pytest
import torch

from tsssl.losses.memory_bank import (
    MemoryBank,
    bank_similarities,
    instdisc_nce,
    memory_bank_softmax,
    momentum_update,
    nce_log_z,
)


def _norm(a):
    return torch.sqrt(sum(a[d] ** 2 for d in range(len(a))))


def _cos(a, b):
    return sum(a[d] * b[d] for d in range(len(a))) / (_norm(a) * _norm(b))


def naive_instdisc_nce(f, pos, noise, Z, n, t):
    """The paper's eq. 6-7 written out: P(i|v) = exp(v_i.f/t) / Z, h = P / (P + m P_n)."""
    B = f.shape[0]
    total = 0.0
    for i in range(B):
        rows = noise if noise.ndim == 2 else noise[i]
        m = rows.shape[0]
        P = torch.exp(_cos(pos[i], f[i]) / t) / Z
        total = total - torch.log(P / (P + m / n))
        for j in range(m):
            Pj = torch.exp(_cos(rows[j], f[i]) / t) / Z
            total = total - torch.log(1 - Pj / (Pj + m / n))
    return total / B


def naive_softmax(f, bank, index, t):
    total = 0.0
    for i in range(f.shape[0]):
        denom = sum(torch.exp(_cos(bank[j], f[i]) / t) for j in range(bank.shape[0]))
        total = total - torch.log(torch.exp(_cos(bank[index[i]], f[i]) / t) / denom)
    return total / f.shape[0]


def _randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("noise_shape", [(7, 3), (4, 7, 3)])
def test_instdisc_nce_matches_the_papers_formula(noise_shape):
    f = _randn(4, 3, seed=0, grad=True)
    pos, noise = _randn(4, 3, seed=1), _randn(*noise_shape, seed=2)
    n, t, log_z = 50, 0.5, 3.2

    def fast(f):
        s_data, s_noise = bank_similarities(f, pos, noise, temperature=t)
        return instdisc_nce(s_data, s_noise, log_z, n)

    got, ref = fast(f), naive_instdisc_nce(f, pos, noise, math.exp(log_z), n, t)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(got, f)[0], torch.autograd.grad(ref, f)[0], rtol=1e-9, atol=1e-12)


def test_nce_log_z_is_n_times_the_mean_exponential():
    s = _randn(5, 6, seed=3) * 3
    naive = 40 * sum(math.exp(s[i, j].item()) for i in range(5) for j in range(6)) / 30
    assert nce_log_z(s, 40).item() == pytest.approx(math.log(naive), rel=1e-12)
    big = torch.full((4, 3), 500.0)  # exp would overflow: the log-sum-exp form does not
    assert nce_log_z(big, 10).item() == pytest.approx(500 + math.log(10))
    assert not nce_log_z(s.requires_grad_(), 40).requires_grad


def test_instdisc_nce_with_a_well_estimated_z_approximates_the_softmax_ranking():
    # a sample at its own entry scores a lower NCE loss than one pointed at another entry
    bank = torch.nn.functional.normalize(_randn(30, 4, seed=4), dim=1)
    f = bank[:5].clone()
    s_own, s_noise = bank_similarities(f, bank[:5], bank, temperature=0.1)
    s_other, _ = bank_similarities(f, bank[5:10], bank, temperature=0.1)
    log_z = nce_log_z(s_noise, 30)
    assert instdisc_nce(s_own, s_noise, log_z, 30) < instdisc_nce(s_other, s_noise, log_z, 30)


def test_memory_bank_softmax_matches_naive():
    f, bank = _randn(4, 3, seed=5, grad=True), _randn(9, 3, seed=6)
    index = torch.tensor([2, 0, 8, 5])
    got, ref = memory_bank_softmax(f, bank, index, temperature=0.2), naive_softmax(f, bank, index, 0.2)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(got, f)[0], torch.autograd.grad(ref, f)[0], rtol=1e-9, atol=1e-12)


def test_momentum_update_matches_a_row_loop():
    old, new = _randn(3, 4, seed=7), _randn(3, 4, seed=8)
    got = momentum_update(old, new, 0.5)
    for i in range(3):
        mixed = [0.5 * old[i, d] + 0.5 * new[i, d] for d in range(4)]
        length = math.sqrt(sum(v.item() ** 2 for v in mixed))
        assert got[i].tolist() == pytest.approx([v.item() / length for v in mixed], rel=1e-12)


def test_memory_bank_sizes_updates_and_round_trips():
    torch.manual_seed(0)
    bank = MemoryBank(4)
    assert len(bank) == 0
    bank.allocate(6)
    assert bank.bank.shape == (6, 4) and torch.allclose(bank.bank.norm(dim=1), torch.ones(6))
    bank.allocate(6)  # same size: kept
    with pytest.raises(ValueError, match="holds 6 samples"):
        bank.allocate(7)
    before = bank.bank.clone()
    f = torch.nn.functional.normalize(torch.randn(2, 4), dim=1)
    bank.update(torch.tensor([4, 1]), f, momentum=0.5)
    torch.testing.assert_close(bank.bank[[4, 1]], momentum_update(before[[4, 1]], f, 0.5))
    untouched = [0, 2, 3, 5]
    assert torch.equal(bank.bank[untouched], before[untouched])
    assert bank.sample(11).shape == (11, 4)
    bank.log_z.fill_(2.5)
    fresh = MemoryBank(4)  # unallocated: loading sizes it
    fresh.load_state_dict(bank.state_dict())
    assert torch.equal(fresh.bank, bank.bank) and fresh.log_z.item() == 2.5
    with pytest.raises(RuntimeError, match="size mismatch"):
        MemoryBank(4, n=3).load_state_dict(bank.state_dict())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bank_similarities(torch.randn(4), torch.randn(4, 3), torch.randn(5, 3)), "features"),
        (lambda: bank_similarities(torch.randn(4, 3), torch.randn(3, 3), torch.randn(5, 3)), "positives"),
        (lambda: bank_similarities(torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 2)), "noise"),
        (lambda: bank_similarities(torch.randn(4, 3), torch.randn(4, 3), torch.randn(3, 5, 3)), "noise"),
        (lambda: bank_similarities(torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 3), 0.0), "temperature"),
        (lambda: instdisc_nce(torch.randn(4), torch.randn(3, 5), 1.0, 10), "scores_noise"),
        (lambda: instdisc_nce(torch.randn(4), torch.randn(4, 5), float("nan"), 10), "log_z"),
        (lambda: instdisc_nce(torch.randn(4), torch.randn(4, 5), torch.zeros(2), 10), "log_z"),
        (lambda: instdisc_nce(torch.randn(4), torch.randn(4, 5), 1.0, 0), "n_bank"),
        (lambda: nce_log_z(torch.randn(4, 5), 2.5), "n_bank"),
        (lambda: memory_bank_softmax(torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4)), "index"),
        (lambda: memory_bank_softmax(torch.randn(4, 3), torch.randn(6, 2), torch.zeros(4, dtype=torch.long)), "bank"),
        (lambda: momentum_update(torch.randn(4, 3), torch.randn(4, 3), 1.0), "momentum"),
        (lambda: MemoryBank(0), "dim"),
        (lambda: MemoryBank(3, n=0), "n must"),
    ],
)
def test_argument_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
