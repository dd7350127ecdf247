"""CLIP: the symmetric InfoNCE with identical captions as positives, zero-shot logits with
template averaging, and two-tower training on digits <-> names and price windows <->
descriptions, both well above chance and above the untrained towers."""

import copy

import numpy as np
import torch
import torch.nn.functional as F

from tsssl.augment.image import default_image_views
from tsssl.data import build_windows, chronological_split, load_sample
from tsssl.data.image import DIGIT_NAMES, DIGIT_TEMPLATES, digits_split
from tsssl.data.text import TREND_PHRASES, Tokenizer, describe_returns
from tsssl.encoders import CNNEncoder
from tsssl.encoders.image import ConvEncoder
from tsssl.encoders.text import BagOfEmbeddings, TextTransformerEncoder
from tsssl.evaluate.embedding import zero_shot_accuracy
from tsssl.methods import StandardizedEncoder, channel_stats
from tsssl.methods.clip import CLIP
from tsssl.train import Trainer


def naive_clip_loss(a, b, same, tau):
    """Both directions, each row a softmax over the batch, averaged over its positives."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    total = 0.0
    for logits, pos in ((a @ b.T / tau, same), (b @ a.T / tau, same.T)):
        logp = F.log_softmax(logits, dim=1)
        total = total + torch.stack([-logp[i][pos[i]].mean() for i in range(len(a))]).mean()
    return total / 2


def test_loss_is_symmetric_info_nce_with_same_text_positives():
    torch.manual_seed(0)
    model = CLIP(ConvEncoder(1, (4,)), BagOfEmbeddings(10, 6), embed_dim=5, temperature=0.1).eval()
    x = torch.rand(4, 1, 8, 8)
    ids = torch.tensor([[4, 5, 0], [6, 0, 0], [4, 5, 0], [7, 8, 9]])  # rows 0 and 2: the same caption
    same = (ids[:, None] == ids[None]).all(-1)
    a, b = model.project_a(model.encoder(x)), model.project_text(model.text_encoder(ids))
    tau = model.temperature()
    assert torch.allclose(tau, torch.tensor(0.1))
    assert torch.allclose(model.training_step((x, ids)), naive_clip_loss(a, b, same, tau), atol=1e-5)
    plain = CLIP(ConvEncoder(1, (4,)), BagOfEmbeddings(10, 6), same_text_positives=False).eval()
    a, b = plain.project_a(plain.encoder(x)), plain.project_text(plain.text_encoder(ids))
    eye = torch.eye(4, dtype=torch.bool)
    assert torch.allclose(plain.training_step((x, ids)), naive_clip_loss(a, b, eye, plain.temperature()), atol=1e-5)


def test_temperature_is_learned_and_clamped():
    model = CLIP(ConvEncoder(1, (4,)), BagOfEmbeddings(10, 6), temperature=0.07, min_temperature=0.05)
    assert model.logit_scale.requires_grad
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert torch.allclose(model.temperature(), torch.tensor(0.05))


def test_class_embeddings_average_the_templates():
    torch.manual_seed(0)
    model = CLIP(ConvEncoder(1, (4,)), BagOfEmbeddings(12, 6), embed_dim=5).eval()
    class_ids = torch.randint(4, 12, (3, 2, 4))
    e = model.class_embeddings(class_ids)
    ref = F.normalize(model.encode_text(class_ids.reshape(6, 4)).reshape(3, 2, 5).mean(1), dim=-1)
    assert torch.allclose(e, ref, atol=1e-6)
    x = torch.rand(2, 1, 8, 8)
    assert torch.allclose(model.zero_shot_logits(x, class_ids), model.encode_a(x) @ ref.T, atol=1e-6)


def zero_shot(model, x, class_ids, y):
    model.eval()
    with torch.no_grad():
        return zero_shot_accuracy(model.encode_a(x), model.class_embeddings(class_ids), y)


def test_clip_on_digits_names_the_unseen_digits():
    split = digits_split(test_frac=0.25, seed=0)
    captions = [t.format(n) for n in DIGIT_NAMES for t in DIGIT_TEMPLATES]
    tok = Tokenizer.from_texts(captions, min_count=1)
    class_ids = tok(captions, max_len=8).reshape(10, len(DIGIT_TEMPLATES), 8)
    template = np.random.default_rng(0).integers(len(DIGIT_TEMPLATES), size=len(split.y_train))
    text = class_ids[torch.from_numpy(split.y_train), torch.from_numpy(template)]
    torch.manual_seed(0)
    model = CLIP(
        ConvEncoder(1, (16, 32, 32)),
        TextTransformerEncoder(len(tok), 32, 2, 1, 64, 8),
        embed_dim=32,
        view=default_image_views().t1,
    )
    initial = copy.deepcopy(model)
    result = Trainer(max_steps=60, batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=10, progress=False).fit(
        model, (torch.from_numpy(split.X_train), text)
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.85 * losses[0], losses
    x_test = torch.from_numpy(split.X_test)
    acc, acc0 = zero_shot(model, x_test, class_ids, split.y_test), zero_shot(initial, x_test, class_ids, split.y_test)
    assert acc > 0.5 and acc > acc0 + 0.3, (acc, acc0)  # chance: 0.1


def test_clip_on_price_windows_and_their_descriptions():
    ws = build_windows(load_sample(), window=20, horizon=5)
    split = chronological_split(ws)
    train, test = split.train, split.test
    texts, _ = describe_returns(train.X[:, :, 0])
    _, trend_test = describe_returns(test.X[:, :, 0])
    tok = Tokenizer.from_texts(texts, min_count=1)
    prompts = tok([f"overall {p}" for p in TREND_PHRASES], max_len=12)
    torch.manual_seed(0)
    window_encoder = StandardizedEncoder(CNNEncoder(train.X.shape[2], channels=16, layers=2), *channel_stats(train.X))
    model = CLIP(window_encoder, TextTransformerEncoder(len(tok), 32, 2, 1, 64, 12), embed_dim=32)
    initial = copy.deepcopy(model)
    result = Trainer(max_steps=150, batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=25, progress=False).fit(
        model, (torch.from_numpy(train.X), tok(texts, max_len=12))
    )
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.9 * losses[0], losses
    x_test = torch.from_numpy(test.X)
    acc, acc0 = zero_shot(model, x_test, prompts, trend_test), zero_shot(initial, x_test, prompts, trend_test)
    majority = np.bincount(trend_test).max() / len(trend_test)
    assert acc > majority + 0.1 and acc > acc0 + 0.1, (acc, acc0, majority)
