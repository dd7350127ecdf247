"""Relative patch position: the patch pair cut from a hand-made image names the neighbour it
took, patches stay inside their cells with the margin (gaps, jitter), and training on the
digits lowers the loss and learns the positions above chance."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder
from tsssl.methods.relpos import NEIGHBOURS, RelativePosition, relative_patch_pair
from tsssl.train import Trainer


def cell_coded_image(cell: int) -> torch.Tensor:
    """(1, 2, 3c, 3c): channel 0 = the cell's row-major index 0..8, channel 1 = the pixel's
    position inside its cell (row * c + column)."""
    r = torch.arange(3 * cell)
    cell_index = (r[:, None] // cell) * 3 + r[None, :] // cell
    inside = (r[:, None] % cell) * cell + r[None, :] % cell
    return torch.stack([cell_index, inside]).float()[None]


def test_the_neighbour_patch_comes_from_the_cell_its_label_names():
    cell, patch, margin = 8, 5, 1
    x = cell_coded_image(cell).expand(400, -1, -1, -1)
    g = torch.Generator().manual_seed(0)
    a, b, k = relative_patch_pair(x, patch, margin, generator=g)
    assert a.shape == b.shape == (400, 2, patch, patch) and set(k.tolist()) == set(range(8))
    assert (a[:, 0] == 4).all()  # the centre cell, every pixel of the patch
    for i in range(400):
        # which cell was taken, computed from the pixels: one cell per patch
        taken = torch.unique(b[i, 0])
        assert len(taken) == 1
        dr, dc = int(taken) // 3 - 1, int(taken) % 3 - 1
        assert NEIGHBOURS[int(k[i])] == (dr, dc)
    # offsets inside the cell: rows / columns in [margin, cell - margin), both values used (jitter)
    for p in (a, b):
        top, left = p[:, 1, 0, 0] // cell, p[:, 1, 0, 0] % cell
        assert top.min() == margin and left.min() == margin
        assert top.max() == cell - patch - margin and left.max() == cell - patch - margin
    # a given label is honoured, and a patch that does not fit raises
    _, _, k2 = relative_patch_pair(x[:8], patch, margin, label=torch.arange(8))
    assert k2.tolist() == list(range(8))
    with pytest.raises(ValueError, match="fit in a cell"):
        relative_patch_pair(x, 7, 1)


def test_step_is_cross_entropy_over_the_eight_positions():
    torch.manual_seed(0)
    method = RelativePosition(ConvEncoder(1, (4,), pool=2), trunk=ConvEncoder(4, (8,)), hidden=16).eval()
    x = torch.rand(6, 1, 24, 24)
    torch.manual_seed(1)
    loss = method.training_step((x,))
    torch.manual_seed(1)
    a, b, k = relative_patch_pair(x, 5, 1)
    assert torch.allclose(loss, F.cross_entropy(method.logits(a, b), k))


def test_relpos_lowers_its_loss_and_learns_the_positions():
    split = digits_split(test_frac=0.25, seed=0, size=24)
    torch.manual_seed(0)
    method = RelativePosition(ConvEncoder(1, (16,), pool=2), trunk=ConvEncoder(16, (32,)), hidden=64)
    result = Trainer(max_steps=50, batch_size=64, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses
    acc = method.position_accuracy(torch.from_numpy(split.X_test))
    print(losses, acc)
    assert acc > 0.3  # chance: 0.125
