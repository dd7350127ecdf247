"""SimCLR, MoCo, BYOL, SimSiam and Barlow Twins on images: the window method classes with a conv
encoder and image views, trained by the one Trainer on the digits; each lowers its loss and its
frozen encoder's linear probe beats the same encoder at its random initialisation."""

import copy

import numpy as np
import pytest
import torch

from tsssl.augment.image import default_image_views
from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import calibrate_batchnorm, linear_probe_accuracy
from tsssl.methods import BYOL, BarlowTwins, MoCo, SimCLR, SimSiam
from tsssl.train import Trainer

METHODS = {
    "simclr": lambda enc, views: SimCLR(enc, views),
    "moco": lambda enc, views: MoCo(enc, views, queue_size=1024),
    "byol": lambda enc, views: BYOL(enc, views),
    "simsiam": lambda enc, views: SimSiam(enc, views),
    "barlow": lambda enc, views: BarlowTwins(enc, views),
}


@pytest.fixture(scope="module")
def split():
    return digits_split(test_frac=0.25, seed=0)


def probe(encoder, split):
    return linear_probe_accuracy(
        embed(encoder, split.X_train), split.y_train, embed(encoder, split.X_test), split.y_test
    )


@pytest.fixture(scope="module")
def random_baseline(split):
    """The encoder every test starts from, at its initialisation (BatchNorm statistics of the
    training images, which any training would give it too)."""
    torch.manual_seed(0)
    enc = ConvEncoder(1, (16, 32, 32))
    return enc, probe(calibrate_batchnorm(copy.deepcopy(enc), split.X_train), split)


@pytest.mark.parametrize("name", list(METHODS))
def test_method_on_digits_lowers_its_loss_and_beats_the_random_encoder(name, split, random_baseline):
    initial, random_acc = random_baseline
    encoder = copy.deepcopy(initial)
    torch.manual_seed(0)  # the heads' initialisation
    method = METHODS[name](encoder, default_image_views())
    result = Trainer(max_steps=60, batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < losses[0] - 0.05 * abs(losses[0]), losses
    acc = probe(method.encoder, split)
    print(name, losses[0], losses[-1], acc, random_acc)
    assert acc > random_acc + 0.02, (name, acc, random_acc)
