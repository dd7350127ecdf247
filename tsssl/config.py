"""The one settings object of every run: defaults < registry defaults < TOML file < presets < flags.

``resolve_config(file, overrides)`` starts from :class:`RunConfig`'s defaults, puts the chosen
method's own defaults on top when it runs on images or text (``tsssl.registry``), applies the
keys of a TOML file, then any preset (``tsssl report --quick``), then the flags the user
actually gave, checks every value (type and accepted choices) and returns the
:class:`RunConfig`. Its sub-tables are ``encoder_kwargs``, ``method_kwargs`` and ``report``
(:class:`ReportSettings`, the grid of ``tsssl report``). ``RunConfig.save(path, command)``
writes the keys that command uses back as TOML (a tiny writer below, so no dependency beyond
``tomllib`` / ``tomli``): passing that file to ``--config`` repeats the run.

No torch here: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsssl import registry
from tsssl.registry import (
    AUTO_FEATURES,
    COMPILE_MODES,
    ENCODERS,
    FEATURES,
    GRID_AUTO_FEATURES,
    MODALITIES,
    PRECISIONS,
    PROBES,
    REBALANCE,
    REPORT_SPLITS,
    SAMPLES,
    SIAMCL_LOSSES,
    SOURCES,
    THRESHOLD_RULES,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Encoder sizes of the default run. Chosen for the CPU budget of issue 7 (at least 1,000
# windows/s for SiamCL on a 2-core CPU): the LSTM backward pass dominates on a CPU, and one
# layer of 32 units keeps it cheap; on a GPU raise them (encoder_kwargs in the config file).
DEFAULT_ENCODER_KWARGS: dict[str, dict[str, Any]] = {
    "lstm": {"hidden": 32, "layers": 1},
    "cnn": {"channels": 32, "layers": 3},
    "transformer": {"d_model": 32, "heads": 2, "layers": 1, "dim_feedforward": 64},
    # TS2Vec's widths; every block at 64 channels and a per-step linear map to 320 (half TS2Vec's
    # compute at its accuracy, benchmarks/RESULTS.md); the depth follows the windows' length
    "dilated": {"hidden": 64, "out_dim": 320, "output": "linear"},
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "modality": MODALITIES,
    "method": registry.names(),
    "encoder": ENCODERS,
    "features": (*FEATURES, AUTO_FEATURES),
    "rebalance": REBALANCE,
    "precision": PRECISIONS,
    "source": SOURCES,
    "sample": SAMPLES,
    "probe": PROBES,
    "compile": COMPILE_MODES,
    "siamcl_loss": SIAMCL_LOSSES,
}
#: the Trainer's settings among RunConfig's keys (what tsssl.pipeline.make_trainer reads)
TRAINER_KEYS = ("epochs", "max_steps", "batch_size", "lr", "weight_decay", "device", "precision", "seed", "compile")
#: keys a resumed run may not change: its checkpoint was trained on these data, windows and model
RESUME_FIXED = (
    "modality", "method", "encoder", "encoder_kwargs", "method_kwargs", "source", "sample", "tickers", "start", "end",
    "data", "window", "horizon", "features", "test_frac", "test_start", "embargo", "rebalance", "batch_size",
    "seed", "purge", "padic_p", "padic_deadband", "siamcl_loss", "siamcl_temperature", "siamcl_margin",
)  # fmt: skip
#: keys that name one run; a report's grid replaces them, so its config file may not set them
SINGLE_RUN_KEYS = ("modality", "method", "features", "rebalance", "seed")


@dataclass
class ReportSettings:
    """The grid and the statistics of ``tsssl report`` (the ``[report]`` table of a config file):
    rows ``methods``, columns ``features`` x ``rebalance``, every cell run with each of
    ``seeds``; ``n_boot`` bootstrap replicates (0: no intervals); the threshold rule and the
    share ``val_frac`` of the training period's end dates in the validation slice.

    Threshold rule parameters: ``min_recall`` (precision_at_recall), ``top_frac``
    (top_frac; None: the validation base rate), ``threshold_value`` (fixed).
    ``split``: "single" (one chronological split), "walk-forward" (``folds`` consecutive test
    periods, each trained on its purged, embargoed past only; docs/design.md, "Walk-forward")
    or "auto" (walk-forward on a panel of at least WALK_FORWARD_MIN_TICKERS tickers and
    WALK_FORWARD_MIN_YEARS years of dates, else single: :func:`walk_forward_by_default`).
    """

    methods: list[str] = field(default_factory=lambda: ["lstm", "siamcl"])
    features: list[str] = field(default_factory=lambda: list(GRID_AUTO_FEATURES))
    rebalance: list[str] = field(default_factory=lambda: ["v1", "v2", "v3"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    n_boot: int = 1000
    threshold_rule: str = "f1"
    val_frac: float = 0.2
    min_recall: float = 0.1
    top_frac: float | None = None
    threshold_value: float = 0.5
    split: str = "auto"
    folds: int = 3

    def threshold_kwargs(self) -> dict[str, Any]:
        """The parameter of the threshold rule as ``choose_threshold``'s keyword ({} for f1)."""
        return {
            "f1": {},
            "precision_at_recall": {"min_recall": self.min_recall},
            "top_frac": {"frac": self.top_frac},
            "fixed": {"value": self.threshold_value},
        }[self.threshold_rule]


#: the rule of ``report.split = "auto"``: walk-forward on at least this many tickers ...
WALK_FORWARD_MIN_TICKERS = 10
#: ... whose dates span at least this many years (the bundled 2-index sample stays on one split)
WALK_FORWARD_MIN_YEARS = 15.0


def walk_forward_by_default(n_tickers: int, years: float) -> bool:
    """Whether ``report.split = "auto"`` walks forward on data of ``n_tickers`` tickers spanning
    ``years`` years (first to last date)."""
    return n_tickers >= WALK_FORWARD_MIN_TICKERS and years >= WALK_FORWARD_MIN_YEARS


#: settings of ``tsssl report`` under a config file: the 20-stock sample (the one with statistical
#: power; ``tsssl train`` keeps the small two-index one for its one-minute first run), 10 epochs a
#: cell, at most 250 steps (docs/design.md, "Walk-forward"; the batch is left to tsssl.budget); a
#: layer that gives ``epochs`` without ``max_steps`` trains for those epochs. 250 steps of 512
#: windows do not cap the two-index sample's 10 epochs (at most 240 steps)
REPORT_DEFAULTS: dict[str, Any] = {"sample": "stocks20", "epochs": 10, "max_steps": 250}


#: ``tsssl report --quick``: one seed, 5 epochs (at most 150 steps a cell), 300 bootstrap
#: replicates, one split (the whole table's shape in about 20 s on a 2-core CPU on the sample)
QUICK_REPORT: dict[str, Any] = {
    "epochs": 5,
    "max_steps": 150,
    "report": {"seeds": [0], "n_boot": 300, "split": "single"},
}


@dataclass
class RunConfig:
    """Everything that decides a run (what ``config.toml`` holds).

    Data: ``source`` is "sample" (the bundled prices ``sample``: "indices" or "stocks20",
    optionally cut to start..end),
    "tickers" (yfinance download of ``tickers`` from ``start`` to ``end``, cached under
    ``cache_dir``) or "file" (``data``: a CSV / parquet path). Dates are "YYYY-MM-DD" strings.
    ``window`` days per window, strict-rise label over ``horizon`` days. The test split is the
    last ``test_frac`` of the dates (or from ``test_start``), purged by the horizon plus
    ``embargo`` days (``purge``: None = the horizon; at least the horizon). ``features`` "auto"
    is resolved once the prices are loaded (``ohlcv`` when they have open, high, low and volume,
    else ``close``) and the run records the set used. ``padic_p`` / ``padic_deadband``: the P-adic
    digits of the ``+padic`` feature sets (docs/design.md, "P-adic features"). ``rebalance``
    applies to the training windows only. ``siamcl_loss`` / ``siamcl_temperature`` /
    ``siamcl_margin``: SiamCL's pair loss and its parameters (``method_kwargs`` naming the same
    argument wins). ``report``: the grid of ``tsssl report`` (ignored by ``tsssl train``).
    """

    modality: str = "timeseries"
    method: str = "siamcl"
    encoder: str = "lstm"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    # data
    source: str = "sample"
    sample: str = "indices"
    tickers: list[str] = field(default_factory=list)
    start: str | None = None
    end: str | None = None
    cache_dir: str | None = None
    data: str | None = None
    window: int = 20
    horizon: int = 5
    features: str = AUTO_FEATURES
    test_frac: float = 0.2
    test_start: str | None = None
    embargo: int = 0
    purge: int | None = None
    padic_p: int = 3
    padic_deadband: float = 0.002
    rebalance: str = "v2"
    siamcl_loss: str = "nt_xent"
    siamcl_temperature: float = 0.2
    siamcl_margin: float = 1.0
    # training
    # None: chosen from the data (tsssl.budget, docs/design.md "Budget")
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    lr: float = 3e-3
    weight_decay: float = 1e-4
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 0
    compile: str | None = None  # a torch.compile mode (tsssl.registry.COMPILE_MODES); None: eager
    # checkpoints of a `tsssl train` run: every this many steps and every this many minutes
    checkpoint_every: int | None = 100
    checkpoint_minutes: float | None = 5.0
    # evaluation and output
    probe: str = "logreg"
    out: str | None = None
    report: ReportSettings = field(default_factory=ReportSettings)

    # -- conversions -------------------------------------------------------------------
    def to_dict(self, command: str | None = None) -> dict[str, Any]:
        """Plain dict of the fields (None kept; the TOML writer leaves None out). ``command``:
        only the keys that command reads and repeats from a config file: "train" (no
        ``report`` table), "report" (no single-run keys) or "modality" (the training keys)."""
        values = dataclasses.asdict(self)
        if command is None:
            return values
        if command == "train":
            values.pop("report")
            return values
        if command == "report":
            return {k: v for k, v in values.items() if k not in SINGLE_RUN_KEYS and k != "out"}
        if command == "modality":
            keep = ("modality", "method", *TRAINER_KEYS, "checkpoint_every", "checkpoint_minutes")
            keep += ("method_kwargs", "encoder_kwargs", "out")
            return {k: values[k] for k in keep}
        raise ValueError(f"command must be train, report or modality, got {command!r}")

    def to_toml(self, command: str | None = None) -> str:
        return dumps_toml(self.to_dict(command))

    def save(self, path: str | os.PathLike, command: str | None = None) -> Path:
        """Write the configuration (the keys ``command`` uses) as TOML, atomically."""
        return write_toml(path, self.to_dict(command))

    def method_settings(self, name: str) -> dict[str, Any]:
        """The constructor arguments of window method ``name``: its named knobs (``METHOD_KNOBS``)
        under ``method_kwargs``."""
        knobs = {arg: getattr(self, key) for key, arg in METHOD_KNOBS.get(name, {}).items()}
        return {**knobs, **self.method_kwargs}

    def trainer_settings(self) -> dict[str, Any]:
        """The Trainer's keyword arguments among these settings (``TRAINER_KEYS``)."""
        return {k: getattr(self, k) for k in TRAINER_KEYS}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], origin: str = "configuration") -> RunConfig:
        """A checked RunConfig from defaults updated by ``values``."""
        return _apply(cls(), values, origin)


#: method name -> {RunConfig key: the method's constructor argument it sets}
METHOD_KNOBS: dict[str, dict[str, str]] = {
    "siamcl": {"siamcl_loss": "loss", "siamcl_temperature": "temperature", "siamcl_margin": "margin"}
}
_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
# The type a value of each field must have (None allowed where the default is None).
_TYPES: dict[str, type] = {
    "encoder_kwargs": dict,
    "method_kwargs": dict,
    "tickers": list,
    "report": dict,
    "window": int,
    "horizon": int,
    "embargo": int,
    "purge": int,
    "padic_p": int,
    "padic_deadband": float,
    "siamcl_temperature": float,
    "siamcl_margin": float,
    "epochs": int,
    "max_steps": int,
    "batch_size": int,
    "seed": int,
    "test_frac": float,
    "lr": float,
    "weight_decay": float,
    "checkpoint_every": int,
    "checkpoint_minutes": float,
}
_TABLES = {
    "report": "'report' must be a table ([report]) of grid settings",
    "encoder_kwargs": "encoder_kwargs must be a table of settings ([encoder_kwargs])",
    "method_kwargs": "method_kwargs must be a table of settings ([method_kwargs])",
}
_OPTIONAL = {
    "start", "end", "cache_dir", "data", "test_start", "max_steps", "out", "epochs", "batch_size", "checkpoint_every",
    "checkpoint_minutes", "compile", "purge",
}  # fmt: skip
_AT_LEAST = {"window": 2, "horizon": 1, "epochs": 1, "max_steps": 1, "batch_size": 1, "checkpoint_every": 1}


def _check_type(key: str, value: Any, origin: str) -> Any:
    want = _TYPES.get(key, str)
    if isinstance(value, (_dt.date, _dt.datetime)) and want is str:
        value = value.isoformat()[:10]  # TOML dates: keep them as YYYY-MM-DD strings
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and want is not bool:
        raise ValueError(f"{origin}: {key!r} must be {want.__name__}, got the boolean {value!r}")
    if not isinstance(value, want):
        raise ValueError(f"{origin}: {key!r} must be {want.__name__}, got {type(value).__name__} {value!r}")
    return value


def _check_value(key: str, value: Any, origin: str) -> Any:
    if value is None:
        if key in _OPTIONAL:
            return None
        raise ValueError(f"{origin}: {key!r} must not be empty (expected {_TYPES.get(key, str).__name__})")
    if key in _TABLES and not isinstance(value, Mapping):
        raise ValueError(f"{origin}: {_TABLES[key]}, got {value!r}")
    value = _check_type(key, value, origin)
    if key == "tickers":
        bad = [t for t in value if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(f"{origin}: 'tickers' must be a list of ticker names, got {bad!r}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ValueError(f"{origin}: {key} = {value!r} is not accepted; choose one of " + ", ".join(_CHOICES[key]))
    if key in _AT_LEAST and value < _AT_LEAST[key]:
        raise ValueError(f"{origin}: {key} must be at least {_AT_LEAST[key]}, got {value}")
    if key == "test_frac" and not 0.0 < value < 1.0:
        raise ValueError(f"{origin}: test_frac must lie strictly between 0 and 1, got {value}")
    if key in ("lr", "weight_decay") and (not math.isfinite(value) or value < 0 or (key == "lr" and value == 0)):
        raise ValueError(f"{origin}: {key} must be a finite number > 0, got {value}")
    if key == "checkpoint_minutes" and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{origin}: checkpoint_minutes must be a number > 0, got {value}")
    if key in ("embargo", "purge") and value < 0:
        raise ValueError(f"{origin}: {key} must be >= 0 trading days, got {value}")
    if key == "padic_p" and (value < 2 or any(value % q == 0 for q in range(2, int(value**0.5) + 1))):
        raise ValueError(f"{origin}: padic_p must be a prime number (2, 3, 5, 7, ...), got {value}")
    if key in ("padic_deadband", "siamcl_temperature", "siamcl_margin") and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{origin}: {key} must be a finite number > 0, got {value}")
    return value


def _apply(cfg: RunConfig, values: Mapping[str, Any], origin: str) -> RunConfig:
    """``cfg`` updated by ``values`` (checked). A layer naming tickers or a data file also
    selects that source unless it sets ``source`` itself; sub-tables merge key by key."""
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ValueError(
            f"{origin}: unknown key(s) {', '.join(map(repr, unknown))}; accepted keys: " + ", ".join(_FIELDS)
        )
    updates = {k: _check_value(k, v, origin) for k, v in values.items()}
    if "source" not in updates:
        if updates.get("data"):
            updates["source"] = "file"
        elif updates.get("tickers"):
            updates["source"] = "tickers"
    for key in ("encoder_kwargs", "method_kwargs"):  # a layer's sizes add to / override the earlier ones
        if key in updates:
            updates[key] = {**getattr(cfg, key), **updates[key]}
    if "report" in updates:
        updates["report"] = apply_report(cfg.report, updates["report"], origin)
    return dataclasses.replace(cfg, **updates)


def _check_report_value(key: str, value: Any, origin: str) -> Any:
    lists = {
        "methods": registry.names("timeseries"),
        "features": (*FEATURES, *GRID_AUTO_FEATURES),
        "rebalance": REBALANCE,
    }
    if key in lists:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not value:
            raise ValueError(f"{origin}: {key} must be a non-empty list, e.g. {list(lists[key][:2])}, got {value!r}")
        bad = [v for v in value if v not in lists[key]]
        if bad:
            raise ValueError(
                f"{origin}: {key}: unknown value(s) {', '.join(map(repr, bad))}; accepted: {', '.join(lists[key])}"
            )
    elif key == "seeds":
        value = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value)
        ):
            raise ValueError(
                f"{origin}: seeds must be a non-empty list of integers >= 0, e.g. [0, 1, 2], got {value!r}"
            )
    elif key == "n_boot":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{origin}: n_boot must be an integer >= 0 (0: no intervals), got {value!r}")
    elif key == "threshold_rule":
        if value not in THRESHOLD_RULES:
            raise ValueError(f"{origin}: threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, got {value!r}")
    elif key == "val_frac":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
            raise ValueError(f"{origin}: val_frac must lie strictly between 0 and 1, e.g. 0.2, got {value!r}")
        value = float(value)
    elif key in _REPORT_NUMBERS:
        value = _check_report_number(key, value, origin)
    elif key == "split" and value not in REPORT_SPLITS:
        raise ValueError(f"{origin}: split must be one of {', '.join(REPORT_SPLITS)}, got {value!r}")
    elif key == "folds" and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        raise ValueError(f"{origin}: folds must be an integer >= 2 (walk-forward test periods), got {value!r}")
    return list(dict.fromkeys(value)) if isinstance(value, list) else value


#: [report] numbers: key -> (what the value is, its range (low, high]; None: any finite number)
_REPORT_NUMBERS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "min_recall": ("the least validation recall of rule precision_at_recall", (0.0, 1.0)),
    "top_frac": ("the share of validation windows flagged by rule top_frac", (0.0, 1.0)),
    "threshold_value": ("the threshold of rule fixed", None),
}


def _check_report_number(key: str, value: Any, origin: str) -> float:
    what, bounds = _REPORT_NUMBERS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{origin}: {key} ({what}) must be a finite number, got {value!r}")
    if bounds is not None and not bounds[0] < value <= bounds[1]:
        raise ValueError(f"{origin}: {key} ({what}) must lie in ({bounds[0]:g}, {bounds[1]:g}], got {value!r}")
    return float(value)


def apply_report(settings: ReportSettings, values: Mapping[str, Any], origin: str) -> ReportSettings:
    """``settings`` updated by a ``[report]`` table (checked); ValueError naming the key and origin."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{origin}: 'report' must be a table ([report]) of grid settings")
    accepted = [f.name for f in dataclasses.fields(ReportSettings)]
    unknown = sorted(set(values) - set(accepted))
    if unknown:
        raise ValueError(
            f"{origin}: unknown key(s) {', '.join(map(repr, unknown))} in [report]; accepted: {', '.join(accepted)}"
        )
    return dataclasses.replace(settings, **{k: _check_report_value(k, v, origin) for k, v in values.items()})


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """A TOML file as a dict; ValueError naming the file when it is missing or not TOML."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"config file {str(p)!r} is a directory, expected a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {str(p)!r} is not valid TOML: {err}") from None


def _method_defaults(layers: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The chosen method's own training defaults when it runs on images or text (the last
    layer naming a modality / method wins); checks that the method runs on that modality."""
    chosen = {"modality": "timeseries", "method": "siamcl"}
    for _, values in layers:
        chosen.update({k: values[k] for k in chosen if values.get(k) is not None})
    modality, method = chosen["modality"], chosen["method"]
    if modality not in MODALITIES:
        raise ValueError(f"modality {modality!r} is not one of {', '.join(MODALITIES)}")
    if method not in registry.METHODS:
        return {}  # _apply names the bad value and its origin
    if modality not in registry.METHODS[method].uses:
        if modality == "timeseries":
            raise ValueError(
                f"method {method!r} is for --modality image / text; on price windows use one of "
                + ", ".join(registry.names("timeseries"))
            )
        raise ValueError(
            f"method {method!r} does not run on --modality {modality}; accepted: " + ", ".join(registry.names(modality))
        )
    if modality == "timeseries":
        return {}
    return {"epochs": None, **registry.use(method, modality).defaults}


def resolve_config(
    file: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    presets: Sequence[tuple[str, Mapping[str, Any]]] = (),
    command: str = "train",
) -> RunConfig:
    """Defaults, the method's own defaults (images / text), the TOML ``file``'s keys, each
    ``(origin, values)`` of ``presets``, then ``overrides`` (flags given; None = not given,
    skipped). A layer giving ``epochs`` but no layer giving ``max_steps`` drops the method's
    default ``max_steps``: the run trains for those epochs. Window encoders get
    ``DEFAULT_ENCODER_KWARGS[encoder]`` under whatever the layers set. ``command="report"``
    refuses a file that names a single run (method, features, ...): the grid replaces them."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if file is not None:
        origin = f"config file {str(file)!r}"
        values = load_toml(file)
        if command == "report":
            single = [k for k in SINGLE_RUN_KEYS if k in values]
            if single:
                raise ValueError(
                    f"{origin}: {', '.join(map(repr, single))} name(s) a single run (a `tsssl train` config); "
                    "a report sets its grid in a [report] table: methods, features, rebalance, seeds"
                )
        layers.append((origin, values))
    layers += list(presets)
    layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
    defaults = _method_defaults(layers)
    if command == "report":  # under the method's own defaults (images / text: not a report)
        defaults = {**REPORT_DEFAULTS, **defaults}
    if (
        "max_steps" in defaults
        and any("epochs" in v for _, v in layers)
        and not any("max_steps" in v for _, v in layers)
    ):
        defaults["max_steps"] = None
    cfg = dataclasses.replace(RunConfig(), **defaults)
    for origin, values in layers:
        cfg = _apply(cfg, values, origin)
    if command == "train" and cfg.modality == "timeseries" and not any("encoder" in v for _, v in layers):
        cfg.encoder = registry.get(cfg.method).encoder  # no encoder named: the method's own (dilated for hierarchical)
    if cfg.modality == "timeseries":  # default sizes of the chosen encoder sit under the user's own
        cfg.encoder_kwargs = {**DEFAULT_ENCODER_KWARGS.get(cfg.encoder, {}), **cfg.encoder_kwargs}
    _check_coherent(cfg)
    return cfg


def check_resume(saved: RunConfig, cfg: RunConfig, report: bool = False) -> None:
    """ValueError listing every ``RESUME_FIXED`` setting in which ``cfg`` differs from the run's
    saved configuration (its config.toml), before anything of the run is touched. ``report``:
    a report's cells also depend on its training length, learning rate, probe and grid (all but
    the number of bootstrap replicates, which only the summary uses)."""
    keys = RESUME_FIXED + (("epochs", "max_steps", "lr", "weight_decay", "probe") if report else ())
    diffs = [f"{k}: {getattr(saved, k)!r} -> {getattr(cfg, k)!r}" for k in keys if getattr(saved, k) != getattr(cfg, k)]
    if report:
        a, b = (dataclasses.replace(c.report, n_boot=0) for c in (saved, cfg))
        diffs += [f"report.{f.name}: {getattr(a, f.name)!r} -> {getattr(b, f.name)!r}" for f in dataclasses.fields(a)
                  if getattr(a, f.name) != getattr(b, f.name)]  # fmt: skip
    if diffs:
        raise ValueError(
            "--resume cannot change what the checkpoint was trained on; differs from the run's config.toml: "
            + "; ".join(diffs)
            + " (start a new run with another --out to change them)"
        )


def resolve_resumed(
    out: str | os.PathLike,
    file: str | os.PathLike | None,
    overrides: Mapping[str, Any],
    *,
    presets: Sequence[tuple[str, Mapping[str, Any]]] = (),
    command: str = "train",
) -> RunConfig | None:
    """The settings of a run resumed in ``out``: its config.toml is the base (``file`` instead when
    given), then ``presets`` and ``overrides``, checked against the saved ones (``check_resume``).
    None when ``out`` holds no config.toml."""
    previous = Path(out) / "config.toml"
    if not previous.is_file():
        return None
    cfg = resolve_config(file or previous, overrides, presets=presets, command=command)
    check_resume(resolve_config(previous, command=command), cfg, report=command == "report")
    return cfg


def _check_coherent(cfg: RunConfig) -> None:
    if cfg.source == "tickers" and not cfg.tickers:
        raise ValueError("source 'tickers' needs at least one ticker (--tickers A B ...)")
    if cfg.source == "file" and not cfg.data:
        raise ValueError("source 'file' needs a price file (--data PATH)")
    if cfg.purge is not None and cfg.purge < cfg.horizon:
        raise ValueError(
            f"purge = {cfg.purge} is shorter than the horizon ({cfg.horizon} days): training labels would reach "
            "the test period; give purge >= horizon (or leave it out: the horizon)"
        )
    if cfg.start and cfg.end and cfg.start > cfg.end:
        raise ValueError(f"start {cfg.start} is after end {cfg.end}")
    for key in ("start", "end", "test_start"):
        value = getattr(cfg, key)
        if value is not None:
            try:
                _dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{key} = {value!r} is not a date; write YYYY-MM-DD") from None


# -- a tiny TOML writer -------------------------------------------------------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    if isinstance(v, Mapping):  # inside an array: inline table
        return "{" + ", ".join(f"{_key(str(k))} = {_value(x, where)}" for k, x in v.items() if x is not None) + "}"
    # numpy scalars and the like
    if hasattr(v, "item"):
        return _value(v.item(), where)
    raise ValueError(f"cannot write {where} = {v!r} ({type(v).__name__}) as TOML")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """TOML text for a mapping of scalars, lists and nested mappings (tables). None values
    are left out (TOML has no null)."""
    lines: list[str] = []

    def emit(table: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        scalars = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
        if prefix and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in prefix) + "]")
        for k, v in scalars:
            lines.append(f"{_key(str(k))} = {_value(v, '.'.join(prefix + (str(k),)))}")
        for k, v in tables:
            emit(v, prefix + (str(k),))

    emit(data, ())
    return "\n".join(lines) + "\n"


def write_toml(path: str | os.PathLike, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as TOML to ``path`` through a temp file and a rename."""
    from tsssl.atomic import atomic_write

    text = dumps_toml(data)
    return atomic_write(path, lambda fh: fh.write(text))
