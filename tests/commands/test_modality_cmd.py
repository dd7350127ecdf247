"""`tsssl train --modality image | text`: real short runs from the command line (digits with
SimCLR, the help topics with word2vec) write every output with the baselines next to the
trained figure; settings precedence; clean errors for a method on the wrong modality."""

import json

import numpy as np
import pytest

from tsssl import registry
from tsssl.cli import main
from tsssl.config import load_toml, resolve_config

IMAGE_METHODS, TEXT_METHODS = registry.names("image"), registry.names("text")


def resolve_settings(modality, method, args=None):
    """The resolved settings of an image / text run as a dict (config file under "config")."""
    args = dict(args or {})
    cfg = resolve_config(args.pop("config", None), {"modality": modality, "method": method, **args})
    return {**cfg.trainer_settings(), "method_kwargs": cfg.method_kwargs, "encoder_kwargs": cfg.encoder_kwargs}


def log_losses(out):
    rows = (out / "log.csv").read_text().splitlines()
    col = rows[0].split(",").index("loss")
    return [float(r.split(",")[col]) for r in rows[1:]]


def test_image_simclr_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "simclr"
    code = main(
        [
            "train",
            "--modality",
            "image",
            "--method",
            "simclr",
            "--max-steps",
            "20",
            "--batch-size",
            "128",
            "--seed",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    for name in ("checkpoint.pt", "config.toml", "metrics.json", "log.csv"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert (m["modality"], m["method"], m["loss"], m["steps"]) == ("image", "simclr", "nt_xent", 20)
    assert m["final_loss"] < m["first_logged_loss"]
    losses = log_losses(out)
    assert len(losses) >= 2 and np.isclose(losses[0], m["first_logged_loss"], rtol=1e-3)
    # the trained encoder, its random initialisation and the raw pixels, with the same probes
    for who in ("trained", "random_encoder", "raw_pixels"):
        assert set(m["probes"][who]) >= {"linear_probe", "knn"}
        assert all(0.0 <= v <= 1.0 for v in m["probes"][who].values())
    assert m["headline"]["trained"] == m["probes"]["trained"]["linear_probe"]
    assert m["headline"]["raw_pixels"] == m["probes"]["raw_pixels"]["linear_probe"]
    printed = capsys.readouterr().out
    assert "--method simclr" in printed and "random encoder" in printed and str(out) in printed
    # config.toml repeats the run
    cfg = load_toml(out / "config.toml")
    assert (cfg["modality"], cfg["method"], cfg["max_steps"], cfg["batch_size"]) == ("image", "simclr", 20, 128)
    # a finished run is not overwritten
    with pytest.raises(SystemExit) as err:
        main(["train", "--modality", "image", "--method", "simclr", "--out", str(out)])
    assert err.value.code == 2 and "--resume" in capsys.readouterr().err


def test_text_word2vec_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "w2v"
    code = main(
        [
            "train",
            "--modality",
            "text",
            "--method",
            "word2vec",
            "--max-steps",
            "60",
            "--batch-size",
            "1024",
            "--seed",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert (m["modality"], m["method"], m["steps"]) == ("text", "word2vec", 60)
    assert m["final_loss"] < m["first_logged_loss"]
    rel = m["related_vs_random"]
    assert len(rel["pairs"]) >= 15 and 0.0 <= rel["trained"]["auc"] <= 1.0
    assert m["headline"]["chance"] == 0.5 and m["headline"]["trained"] == round(rel["trained"]["auc"], 4)
    near = m["nearest_words"]["int"]
    assert len(near) == 5 and "int" not in [w for w, _ in near]  # a word is not its own neighbour
    assert "skipgram" in m["data"] and "min count 5" in m["data"]
    assert "--method word2vec" in capsys.readouterr().out


def test_text_electra_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "electra"
    args = ["train", "--modality", "text", "--method", "electra", "--max-steps", "6", "--batch-size", "32"]
    assert main([*args, "--seed", "0", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert (m["modality"], m["method"], m["steps"]) == ("text", "electra", 6)
    assert m["headline"]["trained"] == m["topic_probes"]["trained"]["knn"]
    assert m["headline"]["majority_topic"] == m["topic_probes"]["majority_class"]
    rtd = m["replaced_token_detection"]
    assert 0.0 < rtd["replaced_share"] <= 0.15 + 0.05  # the chosen 15%, less the samples that were right
    assert 0.0 <= rtd["trained"]["auc"] <= 1.0 and 0.0 <= rtd["random_init"]["auc"] <= 1.0
    gen = m["generator_masked_token_accuracy"]
    assert set(gen) == {"trained", "random_init", "most_frequent_word"}
    assert "--method electra" in capsys.readouterr().out


@pytest.mark.parametrize(
    "modality,method", [("text", "rotnet"), ("image", "word2vec"), ("image", "mlm"), ("text", "lstm")]
)
def test_method_on_the_wrong_modality_is_a_clear_error(modality, method, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["train", "--modality", modality, "--method", method, "--out", str(tmp_path / "x")])
    msg = capsys.readouterr().err
    accepted = IMAGE_METHODS if modality == "image" else TEXT_METHODS
    assert err.value.code == 2 and "Traceback" not in msg
    assert f"method {method!r} does not run on --modality {modality}" in msg
    assert ", ".join(accepted) in msg
    assert not (tmp_path / "x").exists()  # nothing written


def test_every_modality_method_is_a_command_line_choice_with_a_loss():
    import argparse

    from tsssl.commands.train import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    choices = set(next(a for a in parser._actions if a.dest == "method").choices)
    for modality, methods in (("image", IMAGE_METHODS), ("text", TEXT_METHODS)):
        for method in methods:
            assert method in choices, method
            assert registry.use(method, modality).loss
            resolve_settings(modality, method)  # defaults exist


def test_settings_precedence_defaults_file_flags(tmp_path):
    cfg = tmp_path / "w2v.toml"
    cfg.write_text('max_steps = 50\nbatch_size = 256\nlr = 0.05\n[method_kwargs]\nmode = "cbow"\ndim = 16\n')
    s = resolve_settings("text", "word2vec", {"config": str(cfg), "batch_size": 64, "method_kwargs": {"dim": 8}})
    assert s["max_steps"] == 50 and s["lr"] == 0.05  # the file over the defaults
    assert s["batch_size"] == 64  # arguments over the file
    assert s["method_kwargs"] == {"mode": "cbow", "dim": 8}  # tables merged key by key
    assert s["weight_decay"] == 0.0 and s["seed"] == 0  # defaults kept
    # epochs without max_steps trains for those epochs
    assert resolve_settings("image", "rotnet", {"epochs": 2})["max_steps"] is None
    with pytest.raises(ValueError, match="modality 'audio'"):
        resolve_settings("audio", "simclr")
    with pytest.raises(ValueError, match="method_kwargs must be a table"):
        resolve_settings("image", "simclr", {"method_kwargs": 3})


def test_image_jigsaw_keeps_the_first_block_and_a_trunk(tmp_path):
    from tsssl.experiments import build_experiment

    exp = build_experiment("image", "jigsaw")
    m = exp.method
    assert tuple(exp.data.shape[1:]) == (1, 16, 16)  # upsampled digits
    assert m.encoder.out_dim == 32 * 4 and m.tile_size == 6  # first block, pooled to 2 x 2
    assert m.trunk is not None and m.trunk.out_dim == 128 and m.tile_dim == 128
    plain = build_experiment("image", "jigsaw", method_kwargs={"trunk_channels": [], "digit_size": 8})
    assert plain.method.trunk is None and plain.method.tile_size == 3 and tuple(plain.data.shape[2:]) == (8, 8)
    with pytest.raises(ValueError, match="grid must be >= 2"):
        build_experiment("image", "jigsaw", method_kwargs={"grid": 0})
    assert build_experiment("image", "jigsaw", method_kwargs={"grid": 3}).method.tile_size == 4  # 5-pixel cells
    code = main(
        [
            "train",
            "--modality",
            "image",
            "--method",
            "jigsaw",
            "--max-steps",
            "4",
            "--batch-size",
            "64",
            "--out",
            str(tmp_path / "jig"),
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "jig" / "metrics.json").read_text())
    assert metrics["puzzle_accuracy"]["chance"] == round(1 / 24, 4)


def test_image_probes_set_both_encoders_batchnorm_from_the_training_digits():
    import copy

    import torch

    from tsssl.data.image import digits_split
    from tsssl.encoders.image import ConvEncoder
    from tsssl.evaluate import embed
    from tsssl.evaluate.embedding import calibrate_batchnorm, probe_accuracies
    from tsssl.experiments.image import image_probe_metrics

    split = digits_split(test_frac=0.25, seed=0)
    torch.manual_seed(0)
    trained, initial = ConvEncoder(1, (8,)), ConvEncoder(1, (8,))
    bn = trained.features[1]
    bn.running_mean.fill_(5.0)  # statistics of some other inputs (e.g. tiles)
    kept = copy.deepcopy(trained.state_dict())
    got = image_probe_metrics(trained, initial, split, seed=0)
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in kept.items())  # a copy is calibrated

    def probes(enc):
        enc = calibrate_batchnorm(copy.deepcopy(enc), split.X_train)
        r = probe_accuracies(embed(enc, split.X_train), split.y_train, embed(enc, split.X_test), split.y_test, seed=0)
        return {k: round(v, 4) for k, v in r.items()}

    assert got["trained"] == probes(trained) and got["random_encoder"] == probes(initial)


def test_image_relpos_from_the_command_line(tmp_path):
    from tsssl.experiments import build_experiment

    exp = build_experiment("image", "relpos")  # the defaults: 32 x 32 digits, 7-pixel patches
    assert tuple(exp.data.shape[1:]) == (1, 32, 32) and (exp.method.patch, exp.method.margin) == (7, 1)
    out = tmp_path / "relpos"
    args = ["train", "--modality", "image", "--method", "relpos", "--max-steps", "4", "--batch-size", "64"]
    # 24 x 24 digits with 5-pixel patches keep the probes of the raw pixels quick
    assert main([*args, "--method-kwargs", "digit_size=24", "patch=5", "--out", str(out)]) == 0
    for name in ("checkpoint.pt", "config.toml", "metrics.json", "log.csv"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert (m["method"], m["steps"], m["position_accuracy"]["chance"]) == ("relpos", 4, 0.125)
    assert "24x24" in m["data"] and 0 <= m["position_accuracy"]["trained"] <= 1
    assert set(m["probes"]) == {"trained", "random_encoder", "raw_pixels"}


@pytest.mark.parametrize("method", ["inpainting", "dae", "vae"])
def test_image_auto_encoders_build_and_give_a_held_out_loss(method):
    import torch

    from tsssl.experiments import build_experiment
    from tsssl.experiments.image import _TASK_ACCURACY

    exp = build_experiment("image", method)
    x = exp.data[:16]
    assert exp.method.decoder(exp.method.encoder(x)).shape == x.shape  # vae: decoder(posterior mean)
    loss = exp.method.train().training_step((x,))
    held_out = _TASK_ACCURACY[method](exp.method, x, 0)["held_out_loss"]
    assert np.isfinite(held_out) and torch.isfinite(loss) and exp.method.training  # its mode restored
