import numpy as np
import pytest
import torch

from tsssl.data.windowset import WindowSet
from tsssl.encoders import CNNEncoder
from tsssl.methods.finetune import FineTune, finetune

TRAIN = dict(batch_size=32, lr=1e-2, device="cpu", log_every=1, progress=False, seed=0, warmup_frac=0.0)


def _data(n=256, seed=0):
    """Label: the window's channel-0 mean is positive (learnable from the window)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 20, 3)).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0.1).astype(np.int64)
    return X, y


def _encoder():
    torch.manual_seed(0)
    return CNNEncoder(3, channels=8, layers=2)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_finetune_lowers_the_loss_through_the_trainer():
    X, y = _data()
    ft = finetune(_encoder(), X, y, trainer_kwargs=dict(TRAIN, epochs=8))
    losses = [row["loss"] for row in ft.train_result.history]
    assert len(losses) == 8 * (256 // 32)
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:8])
    proba = ft.predict_proba(X)
    assert proba.shape == (256, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert ((proba[:, 1] >= 0.5) == y).mean() > 0.8


def test_frozen_epochs_leave_the_encoder_and_train_the_head():
    X, y = _data(128)
    enc = _encoder()
    before = _params(enc)
    ft = finetune(enc, (X, y), freeze_epochs=1, trainer_kwargs=dict(TRAIN, epochs=1))
    assert ft.freeze_steps == 128 // 32 and int(ft.steps_done) == 4
    assert all(torch.equal(a, b) for a, b in zip(before, _params(ft.encoder)))
    assert any(p.grad is None for p in ft.encoder.parameters())
    # the second epoch trains the encoder too; the original encoder is a separate copy
    ft2 = finetune(enc, (X, y), freeze_epochs=1, trainer_kwargs=dict(TRAIN, epochs=2))
    assert not all(torch.equal(a, b) for a, b in zip(before, _params(ft2.encoder)))
    assert all(torch.equal(a, b) for a, b in zip(before, _params(enc)))


def test_frozen_step_uses_eval_mode_and_no_gradient():
    torch.manual_seed(0)
    enc = CNNEncoder(3, channels=8, layers=2, dropout=0.5)
    ft = FineTune(enc, class_weight=None, freeze_steps=1)
    X, y = _data(16)
    xb, yb = torch.from_numpy(X), torch.from_numpy(y)
    assert ft.encoder_frozen
    ft.train()
    loss = ft.training_step((xb, yb))
    loss.backward()
    assert all(p.grad is None for p in enc.parameters())
    assert all(p.grad is not None for p in ft.head.parameters())
    assert ft.encoder.training and not ft.encoder_frozen
    with torch.no_grad():
        logits = ft.head(enc.eval()(xb))  # the frozen step saw the eval-mode features
    enc.train()
    expected = torch.nn.functional.cross_entropy(logits, yb)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    ft.training_step((xb, yb)).backward()
    assert all(p.grad is not None for p in enc.parameters())


def test_step_counter_survives_a_state_dict_round_trip():
    ft = FineTune(_encoder(), class_weight=None, freeze_steps=3)
    X, y = _data(8)
    for _ in range(3):
        ft.training_step((torch.from_numpy(X), torch.from_numpy(y)))
    assert not ft.encoder_frozen
    fresh = FineTune(_encoder(), class_weight=None, freeze_steps=3)
    assert fresh.encoder_frozen
    fresh.load_state_dict(ft.state_dict())
    assert int(fresh.steps_done) == 3 and not fresh.encoder_frozen


def test_balanced_weights_from_a_windowset_and_errors():
    X, y = _data(64)
    ws = WindowSet(
        X=X,
        y=y,
        end_date=np.arange(64).astype("datetime64[D]"),
        ticker=np.array(["A"] * 64),
        feature_names=["a", "b", "c"],
    )
    ft = finetune(_encoder(), ws, trainer_kwargs=dict(TRAIN, max_steps=1))
    n1 = y.sum()
    assert ft.class_weight.tolist() == pytest.approx([64 / (2 * (64 - n1)), 64 / (2 * n1)])
    with pytest.raises(ValueError, match="y"):
        finetune(_encoder(), ws, y, trainer_kwargs=dict(TRAIN, max_steps=1))
    with pytest.raises(ValueError, match="labelled"):
        FineTune(_encoder(), class_weight=None).training_step((torch.from_numpy(X),))
    with pytest.raises(ValueError, match="freeze_epochs"):
        finetune(_encoder(), X, y, freeze_epochs=-1)
