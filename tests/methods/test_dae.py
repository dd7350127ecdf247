"""Denoising auto-encoder: the corruptions do what they say (masking noise zeroes a share of
the pixels, Gaussian noise has the given spread), the loss is the cross-entropy of the clean
image reconstructed from the corrupted one, and training on the digits lowers it."""

import copy

import numpy as np
import pytest
import torch

from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder
from tsssl.encoders.image_decoder import ConvDecoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import calibrate_batchnorm, knn_accuracy, linear_probe_accuracy
from tsssl.losses.reconstruction import bernoulli_nll
from tsssl.methods.dae import DenoisingAutoencoder, corrupt
from tsssl.train import Trainer


def test_masking_noise_zeroes_the_given_share_and_keeps_the_rest():
    x = torch.rand(200, 1, 8, 8) + 0.1
    xc = corrupt(x, "masking", 0.3, torch.Generator().manual_seed(0))
    zeroed = xc == 0
    assert abs(float(zeroed.float().mean()) - 0.3) < 0.02
    assert torch.equal(xc[~zeroed], x[~zeroed])


def test_gaussian_noise_has_the_given_spread():
    x = torch.rand(200, 1, 8, 8)
    d = corrupt(x, "gaussian", 0.2, torch.Generator().manual_seed(0)) - x
    assert abs(float(d.mean())) < 0.01 and abs(float(d.std()) - 0.2) < 0.01
    with pytest.raises(ValueError, match="noise"):
        corrupt(x, "salt")
    with pytest.raises(ValueError, match="probability"):
        DenoisingAutoencoder(ConvEncoder(1, (4,)), ConvDecoder(4, 8), level=1.5)


def test_step_reconstructs_the_clean_image_from_the_corrupted_one():
    torch.manual_seed(0)
    method = DenoisingAutoencoder(ConvEncoder(1, (4, 8)), ConvDecoder(8, 8, (8,)), level=0.5).eval()
    x = torch.rand(4, 1, 8, 8)
    torch.manual_seed(1)
    loss = method.training_step((x,))
    torch.manual_seed(1)
    xc = corrupt(x, "masking", 0.5)
    assert torch.allclose(loss, bernoulli_nll(method.decoder(method.encoder(xc)), x))


def test_dae_lowers_its_loss_and_beats_the_random_encoder():
    split = digits_split(test_frac=0.25, seed=0)
    torch.manual_seed(0)
    enc = ConvEncoder(1, (16, 32))
    initial = calibrate_batchnorm(copy.deepcopy(enc), split.X_train)
    method = DenoisingAutoencoder(enc, ConvDecoder(enc.out_dim, 8, (32, 16)))
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    losses = [h["loss"] for h in result.history]
    # the cross-entropy of grey levels cannot reach 0: measure the fall above a perfect reconstruction's
    x = torch.from_numpy(split.X_train)
    floor = float(bernoulli_nll(torch.logit(x.clamp(1e-6, 1 - 1e-6)), x))
    assert np.mean(losses[-2:]) - floor < 0.75 * (losses[0] - floor), (losses, floor)

    def scores(enc):
        a, b = embed(enc, split.X_train), embed(enc, split.X_test)
        return (
            linear_probe_accuracy(a, split.y_train, b, split.y_test),
            knn_accuracy(a, split.y_train, b, split.y_test),
        )

    (lin, knn), (lin0, knn0) = (
        scores(calibrate_batchnorm(copy.deepcopy(method.encoder), split.X_train)),
        scores(initial),
    )
    print(lin, lin0, knn, knn0)
    assert lin > lin0 + 0.01 and knn > knn0 + 0.01, (lin, lin0, knn, knn0)
