"""RotNet: the four rotations and their labels, the loss, and training on the digits (16 x 16)
that lowers the loss, learns the rotations and beats the random encoder's probes."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsssl.augment.image import RandomResizedCrop
from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import calibrate_batchnorm, knn_accuracy, linear_probe_accuracy
from tsssl.methods.rotnet import RotNet, rotation_batch
from tsssl.train import Trainer


def test_rotation_batch_holds_every_image_in_every_rotation():
    x = torch.rand(3, 1, 4, 4)
    xr, r = rotation_batch(x)
    assert xr.shape == (12, 1, 4, 4) and r.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    for i in range(12):
        assert torch.equal(xr[i], torch.rot90(x[i % 3], int(r[i]), dims=(-2, -1)))


def test_step_is_cross_entropy_of_the_rotation_head():
    torch.manual_seed(0)
    method = RotNet(ConvEncoder(1, (4, 8))).eval()
    x = torch.rand(5, 1, 8, 8)
    xr, r = rotation_batch(x)
    assert torch.allclose(method.training_step((x,)), F.cross_entropy(method.head(method.encoder(xr)), r))
    with pytest.raises(ValueError, match="square"):
        method.training_step((torch.rand(2, 1, 8, 6),))


@pytest.fixture(scope="module")
def trained():
    split = digits_split(test_frac=0.25, seed=0, size=16)
    torch.manual_seed(0)
    encoder = ConvEncoder(1, (16, 32))
    initial = calibrate_batchnorm(copy.deepcopy(encoder), split.X_train)
    method = RotNet(encoder, RandomResizedCrop(scale=(0.7, 1.0)), hidden=256)
    result = Trainer(max_steps=150, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=20, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    return split, method, initial, [h["loss"] for h in result.history]


def test_rotnet_lowers_its_loss_and_learns_the_rotations(trained):
    split, method, _, losses = trained
    assert np.mean(losses[-2:]) < 0.6 * losses[0], losses
    assert method.rotation_accuracy(torch.from_numpy(split.X_test)) > 0.8  # chance: 0.25


def test_rotnet_features_beat_the_random_encoder(trained):
    split, method, initial, _ = trained

    def scores(enc):
        a, b = embed(enc, split.X_train), embed(enc, split.X_test)
        return (
            linear_probe_accuracy(a, split.y_train, b, split.y_test),
            knn_accuracy(a, split.y_train, b, split.y_test),
        )

    (lin, knn), (lin0, knn0) = scores(method.encoder), scores(initial)
    assert lin > lin0 + 0.01 and knn > knn0 + 0.01, (lin, lin0, knn, knn0)
