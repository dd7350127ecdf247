"""Image experiments: scikit-learn's 8 x 8 digits (stratified 75/25 split), offline.

simclr moco byol simsiam barlow (the window method classes with a conv encoder and image
views), rotnet, jigsaw, cpc (pixel rows as the sequence), clip (digits <-> "the digit
seven"), and the generative / context pretexts: inpainting (context encoder), relpos (relative
patch position), dae (denoising auto-encoder) and vae, the auto-encoders with a ``ConvDecoder``;
rotnet, jigsaw and inpainting run on the digits upsampled to 16 x 16, relpos on 32 x 32
(``method_kwargs = {digit_size = 8}`` for the originals). Evaluation: linear-probe, k-NN
and 5-labels-per-class probe accuracy on the held-out digits for the trained encoder, the same
encoder at its random initialisation, and the raw pixels; both encoders' BatchNorm statistics
are set from the training digits first; CLIP: zero-shot accuracy; the pretext task's own
held-out accuracy (rotnet, jigsaw, relpos) or loss (inpainting, dae, vae) next to them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from tsssl import registry
from tsssl.augment.image import RandomResizedCrop, default_image_views
from tsssl.data.image import DIGIT_NAMES, DIGIT_TEMPLATES, digits_split
from tsssl.data.text import Tokenizer
from tsssl.encoders.image import ConvEncoder, ImageRowEncoder
from tsssl.encoders.image_decoder import ConvDecoder
from tsssl.encoders.text import TextTransformerEncoder
from tsssl.evaluate import embed
from tsssl.evaluate.embedding import calibrate_batchnorm, probe_accuracies, zero_shot_accuracy
from tsssl.experiments.base import SMALL_TEXT_TOWER, Experiment, kw_error, rounded
from tsssl.methods.base import eval_mode

# RotNet and Jigsaw on the 8 x 8 digits did not beat the random encoder; upsampled to 16 x 16
# they did (measured, experiments/image_text/RESULTS.md)
_DIGIT_SIZE = {"rotnet": 16, "jigsaw": 16, "inpainting": 16, "relpos": 32}
# relpos: a 3 x 3 grid of 10-pixel cells (the centre 30 x 30), 7-pixel patches at least one
# pixel from their cell's edges: gaps of 2 - 4 pixels between a patch and its neighbour and
# 2 x 2 jitter positions (on 24 x 24 digits, 5-pixel patches in 8-pixel cells, the k-NN probe
# was far behind the random encoder: experiments/image_text/RESULTS.md)
# The last blocks of a pretext network specialise to its task (Gidaris et al. found RotNet's
# middle blocks best, Goyal et al. Jigsaw's lower / middle ones): RotNet keeps two blocks as the
# representation and learns its task in an MLP head; Jigsaw keeps the first block (pooled to
# 2 x 2) and solves the puzzle with two more conv blocks on each tile (its trunk, which the
# probe does not use). conv channels, pooled size:
_CONV_LAYOUT = {"rotnet": ((32, 64), 1), "jigsaw": ((32,), 2)}
_DEFAULT_LAYOUT = ((32, 64, 64), 1)


def image_probe_metrics(encoder: nn.Module, initial_encoder: nn.Module, split: Any, seed: int = 0) -> dict[str, Any]:
    """Probe accuracies on the held-out digits for the trained encoder, its random
    initialisation and the raw pixels (same probes, same split).

    Both encoders get their BatchNorm statistics from the training digits first (copies,
    ``calibrate_batchnorm``): the random one has none of its own, and a pretext task may train
    on other inputs than whole digits (Jigsaw's standardised tiles), so the probe compares the
    weights, not statistics of different inputs.
    """
    encoder = calibrate_batchnorm(copy.deepcopy(encoder), split.X_train)
    initial_encoder = calibrate_batchnorm(copy.deepcopy(initial_encoder), split.X_train)

    def probes(Z_train: np.ndarray, Z_test: np.ndarray) -> dict[str, float]:
        return rounded(probe_accuracies(Z_train, split.y_train, Z_test, split.y_test, seed=seed))

    def embedded(enc: nn.Module) -> dict[str, float]:
        return probes(embed(enc, split.X_train, batch_size=1024), embed(enc, split.X_test, batch_size=1024))

    return {
        "trained": embedded(encoder),
        "random_encoder": embedded(initial_encoder),
        "raw_pixels": probes(
            split.X_train.reshape(len(split.X_train), -1), split.X_test.reshape(len(split.X_test), -1)
        ),
    }


def build(method: str, seed: int, mk: dict, ek: dict) -> Experiment:
    """The digits experiment of ``method`` (torch already seeded by the caller)."""
    size = int(mk.pop("digit_size", _DIGIT_SIZE.get(method, 8)))
    split = digits_split(test_frac=0.25, seed=seed, size=size)
    describe = f"scikit-learn digits: {split.describe()}" + (" (upsampled from 8 x 8)" if size != 8 else "")
    if method == "clip":  # two towers and captions: a data set of its own
        return _clip_experiment(split, seed, mk, ek, describe)
    model = _MODELS.get(method, _conv_model)(method, size, seed, mk, ek)

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        return _evaluate(method, split, seed, trained, initial)

    return Experiment(method=model, data=torch.from_numpy(split.X_train), evaluate=evaluate, describe=describe)


def _cpc_model(method: str, size: int, seed: int, mk: dict, ek: dict) -> nn.Module:
    """CPC over the digit's pixel rows: predict the rows below from a context of rows above."""
    enc_kw = {
        "in_channels": 1,
        "width": size,
        "height": size,
        "row_height": size // 8,
        "hidden": 64,
        "out_dim": 32,
        **ek,
    }
    kw = {"context_dim": 64, "n_predictions": 2, "n_context": 3, "min_context": 2, **mk}
    try:
        return registry.method_class("cpc")(ImageRowEncoder(**enc_kw), **kw)
    except TypeError as err:
        raise kw_error("cpc", err) from None


def _conv_model(method: str, size: int, seed: int, mk: dict, ek: dict) -> nn.Module:
    """A conv encoder laid out for ``method`` and the method around it."""
    channels, pool = _CONV_LAYOUT.get(method, _DEFAULT_LAYOUT)
    try:
        encoder = ConvEncoder(**{"in_channels": 1, "channels": channels, "pool": pool, **ek})
    except TypeError as err:
        raise kw_error("ConvEncoder", err) from None
    # a random shift / crop first: the digits' first pixel column is always empty, which would
    # give away a rotation or a tile's place without looking at the digit
    shift = RandomResizedCrop(scale=(0.7, 1.0))
    make = _PRETEXT_MODELS.get(method, _two_view_model)
    try:
        return make(method, encoder, shift, size, seed, mk)
    except TypeError as err:
        raise kw_error(method, err) from None


def _two_view_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    return registry.method_class(method)(encoder, default_image_views(), **mk)


def _rotnet_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    return registry.method_class("rotnet")(encoder, shift, **{"hidden": 256, **mk})


def _jigsaw_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    trunk_channels = tuple(mk.pop("trunk_channels", (64, 128)))
    trunk = ConvEncoder(encoder.map_channels, trunk_channels) if trunk_channels else None
    grid = mk.get("grid", 2)
    cell = size // grid if isinstance(grid, int) and grid >= 2 else None  # Jigsaw names a bad grid
    # tiles of 3/4 of their cell (6 of 8 pixels at 16 x 16): gaps of up to 2 pixels between
    # neighbouring tiles hide the strokes' continuity across cell edges
    tile = max(cell - cell // 4, 1) if cell else None
    kw = {"grid": 2, "n_permutations": 24, "seed": seed, "tile_size": tile, "trunk": trunk, **mk}
    return registry.method_class("jigsaw")(encoder, shift, **kw)


def _decoder(in_dim: int, size: int, mk: dict) -> nn.Module:
    return ConvDecoder(in_dim, size, tuple(mk.pop("decoder_channels", (64, 32))))


def _inpainting_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    decoder = _decoder(encoder.out_dim, size, mk)
    return registry.method_class("inpainting")(encoder, decoder, shift, **mk)


def _relpos_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    trunk_channels = tuple(mk.pop("trunk_channels", (64, 128)))
    trunk = ConvEncoder(encoder.map_channels, trunk_channels) if trunk_channels else None
    return registry.method_class("relpos")(encoder, shift, **{"patch": 7, "margin": 1, "trunk": trunk, **mk})


def _dae_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    decoder = _decoder(encoder.out_dim, size, mk)
    return registry.method_class("dae")(encoder, decoder, **mk)


def _vae_model(method: str, encoder: nn.Module, shift: Any, size: int, seed: int, mk: dict) -> nn.Module:
    latent = mk.setdefault("latent_dim", 32)
    decoder = _decoder(latent, size, mk) if isinstance(latent, int) else None  # VAE names a bad latent_dim
    return registry.method_class("vae")(encoder, decoder, **mk)


_PRETEXT_MODELS: dict[str, Callable[..., nn.Module]] = {
    "rotnet": _rotnet_model,
    "jigsaw": _jigsaw_model,
    "inpainting": _inpainting_model,
    "relpos": _relpos_model,
    "dae": _dae_model,
    "vae": _vae_model,
}
#: methods whose model is not a conv encoder + method (CPC reads the digit as a sequence of pixel rows)
_MODELS: dict[str, Callable[..., nn.Module]] = {"cpc": _cpc_model}


def _rotation_accuracy(trained: Any, X_test: torch.Tensor, seed: int) -> dict[str, Any]:
    return {"rotation_accuracy": {"trained": round(trained.rotation_accuracy(X_test), 4), "chance": 0.25}}


def _puzzle_accuracy(trained: Any, X_test: torch.Tensor, seed: int) -> dict[str, Any]:
    return {
        "puzzle_accuracy": {
            "trained": round(trained.puzzle_accuracy(X_test, seed), 4),
            "chance": round(1 / trained.n_permutations, 4),
        }
    }


def _position_accuracy(trained: Any, X_test: torch.Tensor, seed: int) -> dict[str, Any]:
    return {"position_accuracy": {"trained": round(trained.position_accuracy(X_test, seed), 4), "chance": 0.125}}


def _held_out_loss(trained: Any, X_test: torch.Tensor, seed: int) -> dict[str, Any]:
    """The training loss on the held-out digits (eval mode, seeded masks / noise)."""
    with torch.random.fork_rng(devices=[]), torch.no_grad(), eval_mode(trained):
        torch.manual_seed(seed)
        return {"held_out_loss": round(float(trained.training_step((X_test,))), 4)}


#: the pretext task's own accuracy (or loss) on the held-out digits, next to the probes
_TASK_ACCURACY = {
    "rotnet": _rotation_accuracy,
    "jigsaw": _puzzle_accuracy,
    "relpos": _position_accuracy,
    "inpainting": _held_out_loss,
    "dae": _held_out_loss,
    "vae": _held_out_loss,
}


def _evaluate(method: str, split: Any, seed: int, trained: Any, initial: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"probes": image_probe_metrics(trained.encoder, initial.encoder, split, seed)}
    if method in _TASK_ACCURACY:
        X_test = torch.from_numpy(split.X_test).to(next(trained.parameters()).device)
        out.update(_TASK_ACCURACY[method](trained, X_test, seed))
    p = out["probes"]
    out["headline"] = {
        "metric": "linear-probe accuracy on held-out digits",
        "trained": p["trained"]["linear_probe"],
        "random_encoder": p["random_encoder"]["linear_probe"],
        "raw_pixels": p["raw_pixels"]["linear_probe"],
    }
    return out


def digit_captions(template_index: np.ndarray, labels: np.ndarray) -> list[str]:
    """The caption of each digit: DIGIT_TEMPLATES[template_index[i]] with the spelled-out digit."""
    return [DIGIT_TEMPLATES[t].format(DIGIT_NAMES[y]) for t, y in zip(template_index, labels)]


def _clip_experiment(split: Any, seed: int, mk: dict, ek: dict, describe: str) -> Experiment:
    """CLIP between the digits and a caption each (one of several templates, drawn seeded)."""
    all_captions = [t.format(n) for n in DIGIT_NAMES for t in DIGIT_TEMPLATES]
    tok = Tokenizer.from_texts(all_captions, min_count=1)
    L = 8
    class_ids = tok(all_captions, max_len=L).reshape(len(DIGIT_NAMES), len(DIGIT_TEMPLATES), L)
    template = np.random.default_rng(seed).integers(len(DIGIT_TEMPLATES), size=len(split.y_train))
    text_ids = tok(digit_captions(template, split.y_train), max_len=L)
    text_kw = {**SMALL_TEXT_TOWER, "max_len": L, **ek.pop("text", {})}
    try:
        m = registry.method_class("clip")(
            ConvEncoder(**{"in_channels": 1, "channels": (32, 64, 64), **ek}),
            TextTransformerEncoder(len(tok), **text_kw),
            view=default_image_views().t1,
            **{"embed_dim": 32, **mk},
        )
    except TypeError as err:
        raise kw_error("clip", err) from None

    def evaluate(trained: Any, initial: Any) -> dict[str, Any]:
        dev = next(trained.parameters()).device
        X_test = torch.from_numpy(split.X_test).to(dev)

        def zero_shot(model: Any) -> float:
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    a = model.encode_a(X_test).cpu()
                    c = model.class_embeddings(class_ids.to(dev)).cpu()
            finally:
                model.train(was)
            return round(zero_shot_accuracy(a, c, split.y_test), 4)

        zs = {"trained": zero_shot(trained), "random_init": zero_shot(initial.to(dev)), "chance": 0.1}
        return {
            "zero_shot_accuracy": zs,
            "class_texts": {n: [t.format(n) for t in DIGIT_TEMPLATES] for n in DIGIT_NAMES},
            "probes": image_probe_metrics(trained.encoder, initial.encoder, split, seed),
            "headline": {
                "metric": "zero-shot accuracy on held-out digits (10 classes)",
                "trained": zs["trained"],
                "random_encoder": zs["random_init"],
                "chance": 0.1,
            },
        }

    return Experiment(
        method=m,
        data=(torch.from_numpy(split.X_train), text_ids),
        evaluate=evaluate,
        describe=describe + f"; captions from {len(DIGIT_TEMPLATES)} templates",
    )
