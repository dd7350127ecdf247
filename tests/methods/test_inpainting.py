"""Context encoder (inpainting): the masks hide what they say (the central square, random
blocks), the loss is the L2 on the hidden region of the reconstruction from the context, and
training on the digits lowers it."""

import copy

import numpy as np
import pytest
import torch

from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder
from tsssl.encoders.image_decoder import ConvDecoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import calibrate_batchnorm, knn_accuracy, linear_probe_accuracy
from tsssl.losses.reconstruction import region_mse
from tsssl.methods.inpainting import ContextEncoder, central_square_mask, random_block_mask
from tsssl.train import Trainer


def test_central_square_mask_hides_the_centre_square_only():
    m = central_square_mask(2, 16, 8)
    assert m.shape == (2, 1, 16, 16) and m.dtype == torch.bool
    assert m[:, :, 4:12, 4:12].all() and int(m.sum()) == 2 * 64
    odd = central_square_mask(1, 7, 3)
    assert odd[0, 0, 2:5, 2:5].all() and int(odd.sum()) == 9
    with pytest.raises(ValueError, match="side"):
        central_square_mask(1, 8, 9)


def test_random_block_mask_is_a_union_of_whole_blocks_inside_the_image():
    g = torch.Generator().manual_seed(0)
    m = random_block_mask(500, 16, 4, 1, generator=g)
    # one block per image: exactly 4 x 4 hidden pixels forming a square
    assert (m.flatten(1).sum(1) == 16).all()
    rows, cols = m[:, 0].any(2), m[:, 0].any(1)  # (B, 16): rows / columns the block touches
    assert (rows.sum(1) == 4).all() and (cols.sum(1) == 4).all()
    # every position of the block is drawn, the image corners included
    assert rows[:, 0].any() and rows[:, -1].any() and cols[:, 0].any() and cols[:, -1].any()
    several = random_block_mask(500, 16, 4, 4, generator=g).flatten(1).sum(1)
    assert several.min() >= 16 and several.max() <= 64 and several.float().mean() > 40  # overlaps allowed


def test_step_is_the_l2_of_the_hidden_region_reconstructed_from_the_context():
    torch.manual_seed(0)
    method = ContextEncoder(ConvEncoder(1, (4, 8)), ConvDecoder(8, 8, (8,)), mask="center").eval()
    x = torch.rand(3, 1, 8, 8)
    m = central_square_mask(3, 8, 4)
    context = torch.where(m, x.mean(), x)
    assert torch.allclose(context[:, :, 0], x[:, :, 0]) and not torch.allclose(context, x)
    expected = region_mse(method.decoder(method.encoder(context)), x, m)
    assert torch.allclose(method.training_step((x,)), expected)
    with pytest.raises(ValueError, match="square"):
        method.training_step((torch.rand(2, 1, 8, 6),))
    with pytest.raises(ValueError, match="mask"):
        ContextEncoder(ConvEncoder(1, (4,)), ConvDecoder(4, 8), mask="ring")


def train(mask, steps, split):
    torch.manual_seed(0)
    enc = ConvEncoder(1, (16, 32))
    initial = calibrate_batchnorm(copy.deepcopy(enc), split.X_train)
    method = ContextEncoder(enc, ConvDecoder(enc.out_dim, 8, (32, 16)), mask=mask)
    result = Trainer(max_steps=steps, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    return method, initial, [h["loss"] for h in result.history]


@pytest.fixture(scope="module")
def split():
    return digits_split(test_frac=0.25, seed=0)


@pytest.fixture(scope="module")
def random_blocks(split):
    return train("random_blocks", 80, split)


def test_inpainting_lowers_its_loss(split, random_blocks):
    for losses in (random_blocks[2], train("center", 30, split)[2]):
        assert np.mean(losses[-2:]) < 0.7 * losses[0], losses


def test_inpainting_features_beat_the_random_encoder(split, random_blocks):
    method, initial, _ = random_blocks
    trained = calibrate_batchnorm(copy.deepcopy(method.encoder), split.X_train)

    def scores(enc):
        a, b = embed(enc, split.X_train), embed(enc, split.X_test)
        return (
            linear_probe_accuracy(a, split.y_train, b, split.y_test),
            knn_accuracy(a, split.y_train, b, split.y_test),
        )

    (lin, knn), (lin0, knn0) = scores(trained), scores(initial)
    assert lin > lin0 + 0.005 and knn > knn0 + 0.01, (lin, lin0, knn, knn0)
