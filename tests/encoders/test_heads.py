"""Projection, prediction and classifier heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tsssl.encoders import ClassifierHead, PredictionHead, ProjectionHead


def z(B=8, D=16):
    return torch.randn(B, D, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("batchnorm", [True, False])
def test_projection_head_structure_and_shape(layers, batchnorm):
    torch.manual_seed(0)
    head = ProjectionHead(16, hidden_dim=32, out_dim=8, layers=layers, batchnorm=batchnorm)
    assert head(z()).shape == (8, 8) and head.out_dim == 8
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    norms = [m for m in head.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(linears) == layers
    assert len(norms) == (layers - 1 if batchnorm else 0)
    assert linears[-1].bias is not None  # the output layer keeps its bias


def test_projection_head_equals_its_layers_written_out():
    torch.manual_seed(0)
    head = ProjectionHead(16, hidden_dim=32, out_dim=8, layers=2, batchnorm=False).eval()
    l1, l2 = [m for m in head.modules() if isinstance(m, nn.Linear)]
    x = z()
    torch.testing.assert_close(head(x), l2(torch.relu(l1(x))))


def test_prediction_head_default_out_dim_and_grads():
    torch.manual_seed(0)
    head = PredictionHead(16, hidden_dim=32)
    out = head(z())
    assert out.shape == (8, 16) and head.out_dim == 16
    out.pow(2).sum().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert PredictionHead(16, out_dim=4)(z()).shape == (8, 4)


@pytest.mark.parametrize("hidden_dim", [None, 12])
def test_classifier_head_logits_and_training(hidden_dim):
    torch.manual_seed(0)
    head = ClassifierHead(16, n_classes=3, hidden_dim=hidden_dim, dropout=0.1)
    x = z(64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    assert head(x).shape == (64, 3)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        loss = nn.functional.cross_entropy(head(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_eval_mode_deterministic():
    torch.manual_seed(0)
    for head in (ProjectionHead(16), PredictionHead(16), ClassifierHead(16, dropout=0.5)):
        head.eval()
        assert torch.equal(head(z()), head(z()))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\(B, 16\)"):
        ProjectionHead(16)(torch.randn(4, 10))
    with pytest.raises(ValueError, match=r"\(B, 16\)"):
        PredictionHead(16)(torch.randn(4, 2, 16))
    with pytest.raises(ValueError, match="n_classes"):
        ClassifierHead(16, n_classes=0)
    with pytest.raises(ValueError, match="layers"):
        ProjectionHead(16, layers=0)
