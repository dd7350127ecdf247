"""Colorization and the split-brain auto-encoder on the photographs' patches: the loss falls, the
colour prediction beats the training prior on held-out patches, and the lightness encoder beats
its random initialisation on the held-out "which photograph" probe."""

import copy

import pytest
import torch

from tsssl.data.photos import photo_patches
from tsssl.experiments import build_experiment
from tsssl.experiments.image import image_probe_metrics
from tsssl.experiments.photos import colour_cross_entropy
from tsssl.methods.colorization import Colorization
from tsssl.methods.splitbrain import SplitBrain
from tsssl.train import Trainer


def train(exp, steps, batch_size=64):
    initial = copy.deepcopy(exp.method)
    result = Trainer(
        max_steps=steps, batch_size=batch_size, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False
    ).fit(exp.method, exp.data)
    return initial, [h["loss"] for h in result.history]


@pytest.fixture(scope="module")
def photos():
    return photo_patches()


def test_colorization_lowers_its_loss_predicts_colour_and_beats_the_random_encoder(photos):
    exp = build_experiment("image", "colorization", seed=0)
    m = exp.method
    assert isinstance(m, Colorization) and m.rebalance and len(m.centres) == len(m.bin_weights) == 259
    initial, losses = train(exp, 60)
    assert losses[-1] < 0.8 * losses[0], losses
    held_out = torch.from_numpy(photos.probe.X_test * 100.0)  # 8 x 8 patches of the held-out columns
    prior = torch.log(torch.softmax(torch.zeros(len(m.centres)), 0)).numpy()  # uniform over the bins
    assert colour_cross_entropy(m, held_out) < colour_cross_entropy(initial, held_out)
    assert colour_cross_entropy(m, held_out) < colour_cross_entropy(m, held_out, prior)
    p = image_probe_metrics(m.encoder, initial.encoder, photos.grey_probe, seed=0)
    print(p)
    assert p["trained"]["linear_probe"] > p["random_encoder"]["linear_probe"] + 0.01, p
    assert p["trained"]["knn"] > p["random_encoder"]["knn"] + 0.01, p
    assert p["trained"]["linear_probe"] > p["raw_pixels"]["linear_probe"] + 0.05, p


def test_splitbrain_trains_both_halves_and_concatenates_them():
    exp = build_experiment("image", "splitbrain", seed=0, method_kwargs={"l_bins": 20})
    m = exp.method
    assert isinstance(m, SplitBrain) and m.encoder.out_dim == m.l_encoder.out_dim + m.ab_encoder.out_dim == 64
    lab = exp.data[::20]  # spread over both photos
    with torch.no_grad():
        before = [float(v) for v in m.losses(lab)]
    train(exp, 40)
    with torch.no_grad():
        after = [float(v) for v in m.losses(lab)]
    assert after[0] < 0.8 * before[0] and after[1] < 0.8 * before[1], (before, after)
    z = m.encoder(lab[:4] / 100)
    assert z.shape == (4, 64) and torch.allclose(z[:, :32], m.l_encoder(lab[:4, :1] / 100))
    with pytest.raises(ValueError, match="needs L\\*a\\*b\\* images"):
        m.training_step((lab[:, :1],))


def test_bad_colorization_arguments_are_clear_errors():
    from tsssl.encoders.image import ConvEncoder

    enc = ConvEncoder(1, (8,))
    with pytest.raises(ValueError, match="centres must be \\(Q, 2\\)"):
        Colorization(enc, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="bin_weights must be \\(5,\\)"):
        Colorization(enc, torch.zeros(5, 2), torch.ones(4))
    m = Colorization(enc, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="lightness L in \\[0, 100\\]"):
        m.training_step((torch.full((2, 3, 8, 8), 255.0),))
