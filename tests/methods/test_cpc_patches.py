"""CPC on images: the window CPC class with a per-row encoder (rows of pixels as the sequence),
trained on the digits; the loss falls and the context beats the random encoder's k-NN."""

import copy

import numpy as np
import torch

from tsssl.data.image import digits_split
from tsssl.encoders.image import ImageRowEncoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import knn_accuracy, linear_probe_accuracy
from tsssl.losses import info_nce
from tsssl.methods import CPC
from tsssl.methods.cpc import cpc_positive_mask
from tsssl.train import Trainer


def test_cpc_step_on_images_predicts_future_rows():
    torch.manual_seed(0)
    method = CPC(
        ImageRowEncoder(1, 8, 8, hidden=16, out_dim=8), context_dim=12, n_predictions=2, n_context=2, min_context=2
    )
    x = torch.rand(5, 1, 8, 8)
    torch.manual_seed(3)
    loss = method.training_step((x,))
    torch.manual_seed(3)
    ts = method.context_positions(8)
    z, c = method.encoder.steps(x)
    assert z.shape == (5, 8, 8) and c.shape == (5, 8, 12)  # 8 rows = 8 steps
    mask, steps = cpc_positive_mask(5, ts, 2)
    expected = info_nce(method.predict(c[:, ts]).reshape(-1, 8), z[:, steps].reshape(-1, 8), mask, 0.1)
    assert torch.allclose(loss, expected)
    assert method.embed(x).shape == (5, 12)  # the representation: the context after the last row


def test_cpc_on_digit_rows_lowers_its_loss_and_beats_the_random_encoder():
    split = digits_split(test_frac=0.25, seed=0)
    torch.manual_seed(0)
    method = CPC(
        ImageRowEncoder(1, 8, 8, hidden=64, out_dim=32), context_dim=64, n_predictions=2, n_context=3, min_context=2
    )
    initial = copy.deepcopy(method.encoder)
    result = Trainer(max_steps=100, batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.85 * losses[0], losses

    def scores(enc):
        a, b = embed(enc, split.X_train), embed(enc, split.X_test)
        return (
            knn_accuracy(a, split.y_train, b, split.y_test),
            linear_probe_accuracy(a, split.y_train, b, split.y_test),
        )

    (knn, lin), (knn0, lin0) = scores(method.encoder), scores(initial)
    assert knn > knn0 + 0.03 and lin >= lin0 - 0.01, (knn, knn0, lin, lin0)
