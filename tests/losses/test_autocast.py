"""Under bf16 autocast (CPU) every loss computes in float32: same value, float32 result."""

import pytest
import torch

import tsssl.losses as L

LABELS = torch.tensor([0, 1, 0, 2, 1, 2, 0, 1])


def _shifted_eye(a):
    return torch.eye(8, dtype=torch.bool, device=a.device).roll(1, 1)


CASES = {
    "info_nce": lambda a, b, y: L.info_nce(a, b, temperature=0.1),
    "info_nce_mask": lambda a, b, y: L.info_nce(a, b, _shifted_eye(a), temperature=0.1),
    "nt_xent": lambda a, b, y: L.nt_xent(a, b, temperature=0.2),
    "n_pair": lambda a, b, y: L.n_pair(a, b),
    "negative_cosine": lambda a, b, y: L.negative_cosine(a, b),
    "barlow_twins": lambda a, b, y: L.barlow_twins(a, b),
    "vicreg": lambda a, b, y: L.vicreg(a, b),
    "supcon": lambda a, b, y: L.supcon(torch.cat([a, b]), torch.cat([y, y])),
    "soft_nearest_neighbors": lambda a, b, y: L.soft_nearest_neighbors(a, y),
    "lifted_structured": lambda a, b, y: L.lifted_structured(a, y),
    "contrastive_pair": lambda a, b, y: L.contrastive_pair(a, b, y == 0, margin=6.0),
    "triplet_margin": lambda a, b, y: L.triplet_margin(a, b, a.roll(1, 0), margin=2.0),
    "nce": lambda a, b, y: L.nce(a[:, 0], b),
}


def _embeddings():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 16)
    x = torch.randn(16, 6)
    return model, x


@pytest.mark.parametrize("name", list(CASES))
def test_bf16_autocast_gives_the_float32_loss(name):
    fn = CASES[name]
    model, x = _embeddings()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = model(x)
        assert z.dtype == torch.bfloat16  # autocast really is on
        loss_amp = fn(z[:8], z[8:], LABELS)
    assert loss_amp.dtype == torch.float32
    # exactly the float32 computation on the same (bf16-rounded) embeddings
    zf = z.float()
    torch.testing.assert_close(loss_amp, fn(zf[:8], zf[8:], LABELS), rtol=1e-5, atol=1e-6)
    # and close to the loss of the float32 model (only the embeddings' rounding differs)
    z32 = model(x)
    torch.testing.assert_close(loss_amp, fn(z32[:8], z32[8:], LABELS), rtol=5e-2, atol=5e-2)
    loss_amp.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("amp_dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", list(CASES))
def test_cuda_autocast_gives_the_float32_loss(name, amp_dtype):
    fn = CASES[name]
    model, x = _embeddings()
    model, x, y = model.cuda(), x.cuda(), LABELS.cuda()
    with torch.autocast("cuda", dtype=amp_dtype):
        z = model(x)
        assert z.dtype == amp_dtype
        loss_amp = fn(z[:8], z[8:], y)
    assert loss_amp.dtype == torch.float32 and loss_amp.is_cuda
    zf = z.float()
    torch.testing.assert_close(loss_amp, fn(zf[:8], zf[8:], y), rtol=1e-4, atol=1e-5)
    loss_amp.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
