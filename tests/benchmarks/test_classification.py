"""benchmarks/classification.py: the smoke run (ItalyPowerDemand, 2 methods, seed 0, 5 steps)
trains for real and writes JSON and markdown with every row and accuracies in [0, 1]; the SVM
protocol picks its folds from the smallest class; bad flags exit with status 2."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tsssl import registry

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "classification.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("classification_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke(script, tmp_path_factory):
    out = tmp_path_factory.mktemp("classification")
    rc = script.main(["--smoke", "--out", str(out)])
    return rc, out


def test_smoke_writes_every_row(script, smoke):
    rc, out = smoke
    assert rc == 0
    doc = json.loads((out / "classification-smoke.json").read_text())
    assert set(doc) >= {"machine", "settings", "sets", "results"}
    ssl = [n for n in registry.names("timeseries") if not registry.uses_labels(n)]
    assert doc["settings"]["methods"] == ssl[:2] and "lstm" not in ssl
    assert doc["settings"]["steps"] == 5 and doc["settings"]["seeds"] == [0]
    assert doc["sets"] == {"ItalyPowerDemand": {"train": 67, "test": 1029, "length": 24, "channels": 1, "classes": 2}}
    rows = doc["results"]
    args = script.parse_args(["--smoke"])
    X = script.znormalise(script.load_classification("ItalyPowerDemand").X_train)
    assert [(r["kind"], r["method"]) for r in rows] == [
        ("random encoder", "random"),
        ("self-supervised", ssl[0]),
        ("self-supervised", ssl[1]),
        ("supervised", "lstm"),
    ]
    for r in rows:
        assert r["error"] is None and r["set"] == "ItalyPowerDemand" and r["seed"] == 0
        assert 0.0 <= r["accuracy"] <= 1.0
    for r in rows[1:]:
        assert r["steps"] == 5 and r["batch_size"] == 16 and r["fit_seconds"] > 0 and r["windows_per_s"] > 0
    for r in rows[:3]:  # the SVM's C comes from the grid, chosen by 5-fold CV (34 / 33 per class)
        assert r["best_C"] in script.C_GRID and r["cv_folds"] == 5
    for r in rows[1:3]:
        assert 0.0 <= r["untrained_accuracy"] <= 1.0 and np.isfinite(r["final_loss"])
    # a method whose encoder is the plain --encoder (not CPC's encoder + context GRU) starts from
    # the random encoder's very weights: the same untrained accuracy
    plain = [
        r
        for r in rows[1:3]
        if type(script.untrained_method(r["method"], X, 0, args).encoder).__name__ == "StandardizedEncoder"
    ]
    assert plain and all(r["untrained_accuracy"] == rows[0]["accuracy"] for r in plain)


def test_smoke_markdown_has_the_table(script, smoke, capsys):
    _, out = smoke
    text = (out / "classification-smoke.md").read_text()
    labels = [
        registry.label(m) for m in json.loads((out / "classification-smoke.json").read_text())["settings"]["methods"]
    ]
    header = next(ln for ln in text.splitlines() if ln.startswith("| set |"))
    assert all(f" {label} |" in header for label in labels)
    assert "random encoder" in header and "supervised `lstm`" in header and "TS2Vec (reference)" in header
    assert "T-Loss (published)" in header
    row = next(ln for ln in text.splitlines() if ln.startswith("| ItalyPowerDemand |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert len(cells) == 6  # random, 2 methods, supervised, TS2Vec, T-Loss
    assert all(0.0 <= float(c) <= 1.0 for c in cells) and cells[-2:] == ["0.962", "0.954"]
    assert "**mean over sets**" in text and script.TS2VEC_SOURCE in text and script.TLOSS_SOURCE in text
    # --report renders the same markdown again from the JSON
    capsys.readouterr()
    assert script.main(["--report", str(out / "classification-smoke.json")]) == 0
    assert capsys.readouterr().out.strip() == text.strip()


def test_svm_folds_follow_the_smallest_class(script):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [10, 10, 3])
    Z = rng.normal(size=(23, 4)) + 4.0 * np.eye(4)[y]  # well separated classes
    res = script.svm_accuracy(Z, y, Z, y)
    assert res["cv_folds"] == 3 and res["best_C"] in script.C_GRID and res["accuracy"] == 1.0
    y1 = np.repeat([0, 1], [9, 1])  # a class of one series: no cross-validation
    res1 = script.svm_accuracy(Z[:10], y1, Z[:10], y1)
    assert res1["cv_folds"] == 0 and res1["best_C"] == 1.0


def test_ts2vec_evaluation_follows_its_rules_and_survives_features_no_margin_separates(script):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)  # 40 series (< 50): a hard margin, no search
    Z = rng.normal(size=(40, 4)) + 4.0 * np.eye(4)[y]
    small = script.ts2vec_svm_accuracy(Z, y, Z, y)
    assert small == {"accuracy_ts2vec_svm": 1.0, "ts2vec_svm_C": float("inf")}
    y60 = np.repeat([0, 1], 30)  # 60 series, 30 per class: C searched over the grid and infinity
    Z60 = rng.normal(size=(60, 4)) + 4.0 * np.eye(4)[y60]
    big = script.ts2vec_svm_accuracy(Z60, y60, Z60, y60)
    assert big["ts2vec_svm_C"] in (*script.C_GRID, float("inf")) and big["accuracy_ts2vec_svm"] == 1.0
    # identical features with different labels: no hard margin exists; C = 10^4 instead of a hang
    same = np.zeros((40, 4))
    same[:, 0] = rng.integers(0, 2, 40)
    collapsed = script.ts2vec_svm_accuracy(same, y, same, y)
    assert collapsed["ts2vec_svm_C"] == script.C_GRID[-1] and 0.0 <= collapsed["accuracy_ts2vec_svm"] <= 1.0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--methods", "lstm"], "argument --methods: invalid choice: 'lstm'"),
        (["--sets", "FordA"], "argument --sets: invalid choice: 'FordA'"),
        (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
        (["--batch-size", "1"], "argument --batch-size: must be at least 2, got 1"),
        (
            ["--trainer-kwargs", "momentum=0.9"],
            "--trainer-kwargs: unknown momentum; accepted: weight_decay, grad_clip, warmup_frac, min_lr_ratio",
        ),
        (["--defaults", "--trainer-kwargs", "grad_clip=none"], "drop --trainer-kwargs"),
    ],
)
def test_bad_flags_exit_2(script, argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        script.parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_defaults(script):
    args = script.parse_args([])
    assert args.sets == ["ArrowHead", "ItalyPowerDemand", "OSULeaf", "JapaneseVowels"]
    assert args.seeds == [0, 1, 2] and args.steps == 200 and args.batch_size == 16 and args.encoder == "cnn"
    assert "lstm" not in args.methods and args.methods == script.self_supervised_methods()
    assert args.out.parent.name == "results" and args.out.name.endswith("-cpu")


def test_defaults_takes_tsssl_encoders_own_settings_and_refuses_fixed_ones(script, capsys):
    from tsssl.sklearn import TSSSLEncoder

    args = script.parse_args(["--defaults", "--smoke"])
    assert args.defaults and args.encoder == TSSSLEncoder().encoder and args.lr == TSSSLEncoder().lr
    assert "chosen by TSSSLEncoder" in script._settings(args, ["--defaults"])["steps"]
    with pytest.raises(SystemExit) as exc:
        script.parse_args(["--defaults", "--steps", "10"])
    assert exc.value.code == 2 and "drop --steps" in capsys.readouterr().err


def test_encoder_kwargs_length_and_normalisation(script):
    args = script.parse_args(
        ["--encoder", "dilated", "--encoder-kwargs", "hidden=8", "out_dim=16", "--method-kwargs", "mask_rate=0.25"]
    )
    assert args.encoder_kwargs == {"hidden": 8, "out_dim": 16} and args.method_kwargs == {"mask_rate": 0.25}
    every_step = script.parse_args(["--method-kwargs", "temporal_anchors=none", "alpha=0.5"]).method_kwargs
    assert every_step == {"temporal_anchors": None, "alpha": 0.5}
    # the dilated CNN's default sizes under the flags, and the set's length
    assert script.encoder_kwargs(args, 251) == {"hidden": 8, "out_dim": 16, "output": "linear", "length": 251}
    fixed = script.parse_args(["--encoder", "dilated", "--encoder-kwargs", "depth=10"])
    assert script.encoder_kwargs(fixed, 251)["depth"] == 10  # depth given wins over length (the encoder's rule)
    assert "length" not in script.encoder_kwargs(script.parse_args([]), 251)  # the cnn takes no length
    raw, _ = script._load("JapaneseVowels", "none")
    z, info = script._load("JapaneseVowels", "series")
    assert np.array_equal(raw.X_train, script.load_classification("JapaneseVowels").X_train)
    assert np.allclose(z.X_train.mean(axis=1), 0.0, atol=1e-4) and not np.allclose(
        raw.X_train.mean(axis=1), 0.0, atol=1e-2
    )
    assert info["channels"] == 12 and script.parse_args([]).normalisation == "auto"
    auto, _ = script._load("JapaneseVowels", "auto")  # multivariate: as stored
    assert np.array_equal(auto.X_train, raw.X_train)


def test_trainer_kwargs_reach_every_fit_and_the_settings(script, monkeypatch):
    import tsssl

    argv = ["--sets", "ItalyPowerDemand", "--steps", "2", "--encoder-kwargs", "channels=4"]
    argv += ["--trainer-kwargs", "grad_clip=none", "warmup_frac=0", "min_lr_ratio=1", "weight_decay=0.01"]
    args = script.parse_args(argv)
    ts2vec = {"grad_clip": None, "warmup_frac": 0, "min_lr_ratio": 1, "weight_decay": 0.01}
    assert args.trainer_kwargs == ts2vec and script._settings(args, argv)["trainer_kwargs"] == ts2vec
    untouched = script._settings(script.parse_args([]), [])["trainer_kwargs"]
    assert untouched == {"weight_decay": 1e-4, "grad_clip": 1.0, "warmup_frac": 0.05, "min_lr_ratio": 0.0}
    fitted = []

    class Spy(tsssl.TSSSLEncoder):
        def fit(self, X, y=None):
            fitted.append(self)
            return super().fit(X, y)

    monkeypatch.setattr(tsssl, "TSSSLEncoder", Spy)
    d, _ = script._load("ItalyPowerDemand", "auto")
    row = script.run_self_supervised("simclr", "ItalyPowerDemand", d, 0, args)
    params = fitted[0].get_params()
    assert {k: params[k] for k in ts2vec} == ts2vec and row["steps"] == 2
    assert [r["lr"] for r in fitted[0].history_] == [args.lr] * len(fitted[0].history_)  # constant: no schedule
