"""RunConfig: defaults < TOML file < flags, checks with clear errors, TOML written and read back."""

import math
import sys

import pytest

from tsssl.config import (
    DEFAULT_ENCODER_KWARGS,
    RunConfig,
    dumps_toml,
    load_toml,
    resolve_config,
    write_toml,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_defaults_are_the_default_run():
    cfg = resolve_config()
    assert cfg.method == "siamcl" and cfg.window == 20 and cfg.horizon == 5 and cfg.source == "sample"
    assert cfg.encoder_kwargs == DEFAULT_ENCODER_KWARGS["lstm"]


def test_file_overrides_defaults_and_flags_override_file(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text(
        'method = "cpc"\nepochs = 7\nlr = 1e-2\nbatch_size = 64\n'
        "[encoder_kwargs]\nhidden = 48\n[method_kwargs]\nn_predictions = 3\n"
    )
    cfg = resolve_config(f, {"epochs": 2, "batch_size": None, "seed": 5})
    assert cfg.method == "cpc"  # file over default
    assert cfg.epochs == 2  # flag over file
    assert cfg.batch_size == 64  # flag not given (None): file value stays
    assert cfg.lr == 1e-2 and cfg.seed == 5
    # the file's encoder size overrides the encoder's default size; other defaults remain
    assert cfg.encoder_kwargs == {**DEFAULT_ENCODER_KWARGS["lstm"], "hidden": 48}
    assert cfg.method_kwargs == {"n_predictions": 3}


def test_source_follows_the_last_layer_that_names_one(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('tickers = ["AAPL", "MSFT"]\nstart = 2010-01-04\n')  # a TOML date becomes a string
    cfg = resolve_config(f)
    assert cfg.source == "tickers" and cfg.tickers == ["AAPL", "MSFT"] and cfg.start == "2010-01-04"
    assert resolve_config(f, {"source": "sample"}).source == "sample"
    assert resolve_config(f, {"data": "prices.csv"}).source == "file"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('methd = "cpc"\n', "unknown key(s) 'methd'"),
        ('method = "nope"\n', "choose one of siamcl"),
        ('epochs = "3"\n', "'epochs' must be int"),
        ("epochs = 0\n", "epochs must be at least 1"),
        ("test_frac = 1.5\n", "test_frac must lie strictly between 0 and 1"),
        ("rebalance = true\n", "boolean"),
        ('start = "2020-13-01"\n', "not a date"),
        ('source = "tickers"\n', "needs at least one ticker"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, fragment):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ValueError) as err:
        resolve_config(f)
    assert fragment in str(err.value)


def test_bad_flag_value_names_the_command_line():
    with pytest.raises(ValueError, match="command line: precision = 'fp8'"):
        resolve_config(None, {"precision": "fp8"})


def test_unreadable_config_file_is_a_clean_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("method = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        resolve_config(bad)


def test_resolved_config_round_trips_through_toml(tmp_path):
    cfg = resolve_config(
        None,
        {
            "method": "moco",
            "tickers": ["BRK-B", "^GSPC"],
            "end": "2019-12-31",
            "lr": 5e-4,
            "max_steps": 10,
            "out": "runs/x",
        },
    )
    cfg.method_kwargs = {"queue_size": 1024, "temperature": 0.2}
    path = cfg.save(tmp_path / "sub" / "config.toml")
    again = resolve_config(path)
    assert again == cfg
    # None fields are left out of the file (TOML has no null) and come back as defaults
    assert "start" not in tomllib.loads(path.read_text())
    assert RunConfig.from_dict(tomllib.loads(cfg.to_toml())) == cfg


def test_toml_writer_round_trips_awkward_values(tmp_path):
    data = {
        "s": 'quote " backslash \\ tab \t newline \n bell \x07 unicode é',
        "i": -3,
        "f": 0.1,
        "big": 1e300,
        "tiny": 5e-324,
        "t": True,
        "inf": math.inf,
        "lst": [1, 2, 3],
        "strs": ["a", "b c"],
        "empty": [],
        "weird key": 1,
        "tbl": {"x": 1, "nested": {"y": "z"}},
        "empty_tbl": {},
        "only_sub": {"inner": {"k": 1.5}},
        "none": None,
    }
    text = dumps_toml(data)
    back = tomllib.loads(text)
    expected = {k: v for k, v in data.items() if v is not None}
    assert back == expected
    p = write_toml(tmp_path / "x.toml", data)
    assert tomllib.loads(p.read_text()) == expected
    assert [f.name for f in tmp_path.iterdir()] == ["x.toml"]  # no temp file left behind


def test_sample_and_features_keys():
    cfg = resolve_config()
    assert cfg.sample == "indices" and cfg.features == "auto"
    cfg = resolve_config(overrides={"source": "sample", "sample": "stocks20", "features": "close+padic"})
    assert (cfg.sample, cfg.features) == ("stocks20", "close+padic")
    assert tomllib.loads(cfg.to_toml("train"))["sample"] == "stocks20"
    with pytest.raises(ValueError, match="sample = 'sp500' is not accepted; choose one of indices, stocks20"):
        resolve_config(overrides={"sample": "sp500"})
    with pytest.raises(
        ValueError, match="features = 'hlc' is not accepted; choose one of ohlcv, .*close, close\\+padic, auto"
    ):
        resolve_config(overrides={"features": "hlc"})


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"purge": 3}, "purge = 3 is shorter than the horizon (5 days)"),
        ({"purge": -1}, "purge must be >= 0 trading days"),
        ({"padic_p": 4}, "padic_p must be a prime number (2, 3, 5, 7, ...), got 4"),
        ({"padic_deadband": 0.0}, "padic_deadband must be a finite number > 0"),
        ({"siamcl_loss": "hinge"}, "siamcl_loss = 'hinge' is not accepted; choose one of nt_xent, info_nce, supcon"),
        ({"siamcl_temperature": -0.1}, "siamcl_temperature must be a finite number > 0"),
        ({"siamcl_margin": float("nan")}, "siamcl_margin must be a finite number > 0"),
        ({"test_frac": 0.0}, "test_frac must lie strictly between 0 and 1"),
        ({"report": {"split": "rolling"}}, "split must be one of auto, single, walk-forward, got 'rolling'"),
        ({"report": {"folds": 1}}, "folds must be an integer >= 2"),
        ({"report": {"min_recall": 1.5}}, "min_recall (the least validation recall of rule precision_at_recall)"),
        ({"report": {"top_frac": 0}}, "top_frac (the share of validation windows flagged by rule top_frac) must lie"),
        ({"report": {"threshold_value": "high"}}, "threshold_value (the threshold of rule fixed) must be a finite"),
    ],
)
def test_knobs_are_checked_with_one_line_messages(values, fragment):
    with pytest.raises(ValueError) as err:
        resolve_config(None, values)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_knobs_round_trip_through_the_config_file_and_reach_the_method(tmp_path):
    f = tmp_path / "knobs.toml"
    f.write_text(
        "purge = 7\nembargo = 2\ntest_frac = 0.3\npadic_p = 5\npadic_deadband = 0.001\n"
        'siamcl_loss = "triplet_margin"\nsiamcl_margin = 0.5\n'
        '[report]\nsplit = "walk-forward"\nfolds = 3\nthreshold_rule = "precision_at_recall"\nmin_recall = 0.2\n'
    )
    cfg = resolve_config(f, command="report")
    assert (cfg.purge, cfg.embargo, cfg.test_frac, cfg.padic_p, cfg.padic_deadband) == (7, 2, 0.3, 5, 0.001)
    assert cfg.method_settings("siamcl") == {"loss": "triplet_margin", "temperature": 0.2, "margin": 0.5}
    assert cfg.method_settings("lstm") == {}  # the SiamCL knobs reach SiamCL only
    assert cfg.report.split == "walk-forward" and cfg.report.folds == 3
    assert cfg.report.threshold_kwargs() == {"min_recall": 0.2}
    saved = tmp_path / "config.toml"
    cfg.save(saved, "report")
    assert resolve_config(saved, command="report") == cfg
    # method_kwargs naming the same argument wins over the named knob
    assert resolve_config(f, {"method_kwargs": {"margin": 2.0}}).method_settings("siamcl")["margin"] == 2.0


def test_report_step_budget_quick_preset_and_auto_split_rule():
    from tsssl.config import QUICK_REPORT, REPORT_DEFAULTS, walk_forward_by_default

    assert resolve_config(command="report").max_steps == REPORT_DEFAULTS["max_steps"]
    assert resolve_config(command="train").max_steps is None  # `tsssl train` keeps its epochs
    assert resolve_config(None, {"epochs": 3}, command="report").max_steps is None  # epochs asked for: epochs
    quick = resolve_config(presets=[("--quick", QUICK_REPORT)], command="report")
    assert quick.report.split == "single" and quick.max_steps == QUICK_REPORT["max_steps"]
    asked = resolve_config(None, {"report": {"split": "walk-forward"}}, presets=[("--quick", QUICK_REPORT)])
    assert asked.report.split == "walk-forward"  # --quick keeps one split unless asked
    assert walk_forward_by_default(20, 32.0) and not walk_forward_by_default(2, 20.0)
    assert not walk_forward_by_default(20, 10.0)


def test_train_without_an_encoder_takes_the_methods_own_and_a_named_one_wins():
    assert resolve_config(None, {"method": "siamcl"}).encoder == "lstm"
    cfg = resolve_config(None, {"method": "hierarchical"})
    assert cfg.encoder == "dilated" and cfg.encoder_kwargs["output"] == "linear"  # its default sizes too
    assert resolve_config(None, {"method": "hierarchical", "encoder": "cnn"}).encoder == "cnn"
    assert resolve_config(None, {"method": "hierarchical"}, command="report").encoder == "lstm"  # the grid's one
