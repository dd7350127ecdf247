"""Hierarchical (TS2Vec-style): the step is the algorithm written out crop by crop, the timestamp
mask is drawn in training only and zeroes about half of the steps, the loss falls, the trained
representation finds held-out series from their crops better than the random encoder, and it
runs from the command line."""

import copy
import json

import numpy as np
import pytest
import torch

from tsssl.augment.crops import overlapping_crops
from tsssl.cli import main
from tsssl.data import build_windows, load_classification, load_sample
from tsssl.encoders import CNNEncoder, DilatedEncoder, LSTMEncoder
from tsssl.losses import hierarchical_contrastive
from tsssl.methods import StandardizedEncoder, build_method, channel_stats
from tsssl.methods.hierarchical import Hierarchical
from tsssl.train import Trainer


def _method(length: int = 24, **kwargs) -> Hierarchical:
    torch.manual_seed(0)
    return Hierarchical(DilatedEncoder(3, out_dim=16, hidden=8, length=length), **kwargs)


@pytest.mark.parametrize(
    "temporal_unit, anchors, T",
    [(0, None, 24), (1, None, 24), (0, 3, 40)],  # 3 anchors on 40 steps: the sampled temporal term
)
def test_step_is_the_algorithm_written_out_crop_by_crop(temporal_unit, anchors, T):
    method = _method(
        T, temporal_unit=temporal_unit, alpha=0.3, temporal_anchors=anchors
    ).eval()  # neither mask nor dropout
    x = torch.randn(5, T, 3)
    torch.manual_seed(1)
    got = method.training_step((x,))
    torch.manual_seed(1)  # the same crops, then the same anchors
    c = overlapping_crops(5, T, 2 ** (temporal_unit + 1))
    enc = method.trained
    r1 = torch.stack(
        [enc.forward_steps(x[b : b + 1, s : s + c.length1])[0, -c.overlap :] for b, s in enumerate(c.start1)]
    )
    r2 = torch.stack(
        [enc.forward_steps(x[b : b + 1, s : s + c.length2])[0, : c.overlap] for b, s in enumerate(c.start2)]
    )
    assert c.overlap >= 2 ** (temporal_unit + 1) and (anchors is None or c.overlap > anchors)
    want = hierarchical_contrastive(r1, r2, alpha=0.3, temporal_unit=temporal_unit, max_anchors=anchors)
    torch.testing.assert_close(got, want)


def test_temporal_term_uses_32_random_anchors_by_default():
    assert _method().temporal_anchors == 32 and _method(temporal_anchors=None).temporal_anchors is None


def test_timestamp_mask_only_in_training():
    method = _method(average_weights=False)  # one encoder: training and embedding both call it
    seen = []
    forward_steps = method.encoder.forward_steps
    method.encoder.forward_steps = lambda x, mask=None: seen.append(mask) or forward_steps(x, mask)
    x = torch.randn(64, 24, 3)
    method.train()
    method.training_step((x,))
    assert len(seen) == 2 and all(m is not None and m.dtype == torch.bool for m in seen)
    assert 0.4 < float(torch.cat([m.flatten() for m in seen]).float().mean()) < 0.6  # about half kept
    seen.clear()
    method.eval()
    method.training_step((x,))
    method.embed(x)
    assert seen == [None, None, None]
    seen.clear()
    Hierarchical(method.encoder, mask_rate=0.0, average_weights=False).train().training_step((x,))
    assert seen == [None, None]


def test_encoder_is_the_mean_of_the_trained_weights_after_every_step():
    """average_weights (TS2Vec's): after n steps every weight of ``encoder`` is the plain mean of
    ``online``'s n iterates (recorded after each step), not its start; without it the encoder
    trains itself."""
    X = torch.randn(32, 24, 3)
    method = _method(average_weights=True)
    assert method.trained is method.online and method.encoder is not method.online
    start = [p.detach().clone() for p in method.encoder.parameters()]
    iterates = []

    class Record:
        def on_step_end(self, step):
            iterates.append([p.detach().clone() for p in method.online.parameters()])

    Trainer(max_steps=6, batch_size=16, lr=1e-2, seed=0, device="cpu", progress=False, callbacks=[Record()]).fit(
        method, (X,)
    )
    assert len(iterates) == 6
    for i, p in enumerate(method.encoder.parameters()):
        mean = torch.stack([it[i] for it in iterates]).mean(0)  # naive reference
        torch.testing.assert_close(p.detach(), mean, rtol=1e-5, atol=1e-6)
        assert not p.requires_grad
    assert any(not torch.equal(p, q) for p, q in zip(method.encoder.parameters(), start))
    assert not torch.equal(iterates[-1][0], next(method.encoder.parameters()))  # the mean, not the last

    plain = _method(average_weights=False)
    Trainer(max_steps=3, batch_size=16, lr=1e-2, seed=0, device="cpu", progress=False).fit(plain, (X,))
    assert plain.trained is plain.encoder and plain.momentum_pairs() == []
    assert not hasattr(plain, "online")


def _fixed_loss(method: Hierarchical, x: torch.Tensor) -> float:
    """The loss of ``x`` on fixed crops (seeded), without mask or dropout: the per-step loss
    varies with the random overlap length, so the trained and untrained models are compared on
    the same crops."""
    with torch.no_grad(), torch.random.fork_rng():
        method.eval()
        losses = []
        for seed in range(8):
            torch.manual_seed(seed)
            losses.append(float(method.training_step((x,))))
        method.train()
    return float(np.mean(losses))


def test_lowers_its_loss_on_the_sample():
    ws = build_windows(load_sample(), window=20, horizon=5).subset(np.arange(512))
    torch.manual_seed(0)
    method = Hierarchical(StandardizedEncoder(DilatedEncoder(5, out_dim=16, hidden=8, length=20), *channel_stats(ws.X)))
    x = torch.from_numpy(ws.X[:64])
    before = _fixed_loss(method, x)
    result = Trainer(max_steps=30, batch_size=64, lr=1e-2, seed=0, device="cpu", progress=False).fit(method, ws)
    after = _fixed_loss(method, x)
    assert np.isfinite(result.final_loss) and after < 0.9 * before, (before, after)


def _crop_retrieval(encoder, X: torch.Tensor) -> float:
    """Share of series whose first 15 steps' representation has, among the representations of
    every series' last 15 steps (overlapping on 5), its own as the nearest by cosine."""
    encoder.eval()
    with torch.no_grad():
        a = torch.nn.functional.normalize(encoder(X[:, :15]), dim=1)
        b = torch.nn.functional.normalize(encoder(X[:, -15:]), dim=1)
    return float(((a @ b.T).argmax(1) == torch.arange(len(X))).float().mean())


def test_representation_finds_held_out_series_from_their_crops_better_than_the_random_encoder():
    """JapaneseVowels (270 training / 370 test utterances, 25 steps, 12 channels): trained on the
    training utterances without labels, the representation of one crop of a TEST utterance finds
    the other crop of the same utterance among all 370 (chance 0.003) more often than the same
    encoder untrained (0.06 -> 0.13 at seed 0; seeds 1, 2: 0.08 -> 0.11, 0.09 -> 0.12)."""
    X_train, _, X_test, _ = load_classification("JapaneseVowels")
    torch.manual_seed(0)
    encoder = DilatedEncoder(12, out_dim=32, hidden=16, length=25)
    method = Hierarchical(StandardizedEncoder(encoder, *channel_stats(X_train)))
    X = torch.from_numpy(X_test)
    untrained = _crop_retrieval(copy.deepcopy(method.encoder), X)
    Trainer(max_steps=30, batch_size=32, lr=3e-3, seed=0, device="cpu", progress=False).fit(
        method, (torch.from_numpy(X_train),)
    )
    trained = _crop_retrieval(method.encoder, X)
    assert trained > untrained + 0.03, (trained, untrained)


@pytest.mark.parametrize("encoder", ["dilated", "lstm", "cnn", "transformer"])
def test_per_step_encoders_by_name(encoder):
    torch.manual_seed(0)
    method = build_method("hierarchical", 5, encoder=encoder, encoder_kwargs={}, standardize=([0.0] * 5, [1.0] * 5))
    assert method.masks_timestamps == (encoder == "dilated")
    loss = method.training_step((torch.randn(8, 20, 5),))
    loss.backward()
    assert torch.isfinite(loss) and method.embed(torch.randn(3, 20, 5)).shape == (3, method.encoder.out_dim)


def test_bad_settings_are_reported():
    pooled_only = torch.nn.Linear(3, 4)
    pooled_only.out_dim = 4
    with pytest.raises(ValueError, match="per-step outputs.*got Linear; accepted: 'dilated'"):
        Hierarchical(pooled_only)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        Hierarchical(LSTMEncoder(3), alpha=2)
    with pytest.raises(ValueError, match=r"mask_rate must be a number in \[0, 1\)"):
        Hierarchical(CNNEncoder(3), mask_rate=1.0)
    with pytest.raises(ValueError, match="average_weights must be True or False, got 1"):
        Hierarchical(CNNEncoder(3), average_weights=1)
    with pytest.raises(ValueError, match="shorter than the overlap of at least 4 steps"):
        _method(temporal_unit=1).training_step((torch.randn(4, 3, 3),))


def test_trains_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "x_hier"
    argv = ["train", "--method", "hierarchical", "--encoder", "dilated", "--encoder-kwargs", "hidden=8", "out_dim=16"]
    argv += ["length=20", "--sample", "--start", "2016-01-01", "--max-steps", "4", "--batch-size", "64"]
    assert main([*argv, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "hierarchical" and np.isfinite(metrics["final_loss"])
    assert "tsssl train: hierarchical (dilated encoder)" in capsys.readouterr().out
