"""VAE: the representation is the posterior mean, the loss is the negative ELBO of one
reparameterised sample (Bernoulli pixels + beta * KL), and training on the digits lowers it."""

import copy

import numpy as np
import pytest
import torch

from tsssl.data.image import digits_split
from tsssl.encoders.image import ConvEncoder
from tsssl.encoders.image_decoder import ConvDecoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import calibrate_batchnorm, probe_accuracies
from tsssl.losses.reconstruction import bernoulli_nll, negative_elbo
from tsssl.methods.vae import VAE
from tsssl.train import Trainer


def test_step_is_the_negative_elbo_of_a_reparameterised_sample():
    torch.manual_seed(0)
    method = VAE(ConvEncoder(1, (4, 8)), ConvDecoder(3, 8, (8,)), latent_dim=3, beta=2.0).eval()
    x = torch.rand(5, 1, 8, 8)
    mu, log_var = method.posterior(x)
    assert mu.shape == log_var.shape == (5, 3) and method.encoder.out_dim == 3
    assert torch.allclose(method.encoder(x), mu)  # the representation: the posterior mean
    torch.manual_seed(1)
    loss = method.training_step((x,))
    torch.manual_seed(1)
    z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
    assert torch.allclose(loss, negative_elbo(method.decoder(z), x, mu, log_var, beta=2.0))
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(ConvEncoder(1, (4,)), ConvDecoder(3, 8), latent_dim=0)


def test_vae_lowers_its_loss_and_its_posterior_mean_beats_the_random_encoder():
    split = digits_split(test_frac=0.25, seed=0)
    torch.manual_seed(0)
    method = VAE(ConvEncoder(1, (16, 32)), ConvDecoder(16, 8, (32, 16)), latent_dim=16)
    initial = calibrate_batchnorm(copy.deepcopy(method.encoder), split.X_train)
    result = Trainer(max_steps=40, batch_size=128, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        method, torch.from_numpy(split.X_train)
    )
    losses = [h["loss"] for h in result.history]
    # the cross-entropy of grey levels cannot reach 0: measure the fall above a perfect reconstruction's
    x = torch.from_numpy(split.X_train)
    floor = float(bernoulli_nll(torch.logit(x.clamp(1e-6, 1 - 1e-6)), x))
    assert np.mean(losses[-2:]) - floor < 0.75 * (losses[0] - floor), (losses, floor)

    def probes(enc):
        a, b = embed(enc, split.X_train), embed(enc, split.X_test)
        return probe_accuracies(a, split.y_train, b, split.y_test, seed=0)

    trained = probes(calibrate_batchnorm(copy.deepcopy(method.encoder), split.X_train))
    random = probes(initial)
    print(trained, random)
    # as in the real run: ahead on the linear probes (all labels, 5 per class), not on k-NN
    assert trained["linear_probe"] > random["linear_probe"], (trained, random)
    assert trained["linear_probe_5_per_class"] > random["linear_probe_5_per_class"] + 0.03, (trained, random)
