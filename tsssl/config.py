"""The resolved configuration of a training run: defaults < TOML file < command-line flags.

``resolve_config(file, overrides)`` starts from :class:`RunConfig`'s defaults, applies the
keys of a TOML file, then the flags the user actually gave, checks every value (type and
accepted choices) and returns the :class:`RunConfig`. ``RunConfig.save(path)`` writes it
back as TOML (a tiny writer below, so no dependency beyond ``tomllib`` / ``tomli``), which is
what ``tsssl train`` puts in ``<out>/config.toml``: passing that file to ``--config``
repeats the run.

No torch here: the CLI imports this module to build its parser.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Names accepted on the command line and in config files. tsssl.methods.registry.METHODS
# holds the window methods; a test keeps the two lists equal.
WINDOW_METHODS = ("siamcl", "cpc", "simclr", "moco", "byol", "simsiam", "barlow", "lstm")
MODALITY_METHODS = ("rotnet", "jigsaw", "clip", "word2vec", "mlm", "simcse")
ENCODERS = ("lstm", "cnn", "transformer")
MODALITIES = ("timeseries", "image", "text")
FEATURES = ("ohlcv", "ohlcv+padic")
REBALANCE = ("v1", "v2", "v3", "none")
PRECISIONS = ("fp32", "bf16", "fp16")
SOURCES = ("sample", "tickers", "file")
PROBES = ("logreg", "mlp")

# Encoder sizes of the default run. Chosen for the CPU budget of issue 7 (at least 1,000
# windows/s for SiamCL on a 2-core CPU): the LSTM backward pass dominates on a CPU, and one
# layer of 32 units keeps it cheap; on a GPU raise them (encoder_kwargs in the config file).
DEFAULT_ENCODER_KWARGS: dict[str, dict[str, Any]] = {
    "lstm": {"hidden": 32, "layers": 1},
    "cnn": {"channels": 32, "layers": 3},
    "transformer": {"d_model": 32, "heads": 2, "layers": 1, "dim_feedforward": 64},
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "modality": MODALITIES,
    "method": WINDOW_METHODS + MODALITY_METHODS,
    "encoder": ENCODERS,
    "features": FEATURES,
    "rebalance": REBALANCE,
    "precision": PRECISIONS,
    "source": SOURCES,
    "probe": PROBES,
}


@dataclass
class RunConfig:
    """Everything that decides a `tsssl train` run (what ``config.toml`` holds).

    Data: ``source`` is "sample" (the bundled prices, optionally cut to start..end),
    "tickers" (yfinance download of ``tickers`` from ``start`` to ``end``, cached under
    ``cache_dir``) or "file" (``data``: a CSV / parquet path). Dates are "YYYY-MM-DD" strings.
    ``window`` days per window, strict-rise label over ``horizon`` days. The test split is the
    last ``test_frac`` of the dates (or from ``test_start``), purged by the horizon plus
    ``embargo`` days. ``rebalance`` applies to the training windows only.
    """

    modality: str = "timeseries"
    method: str = "siamcl"
    encoder: str = "lstm"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    # data
    source: str = "sample"
    tickers: list[str] = field(default_factory=list)
    start: str | None = None
    end: str | None = None
    cache_dir: str | None = None
    data: str | None = None
    window: int = 20
    horizon: int = 5
    features: str = "ohlcv"
    test_frac: float = 0.2
    test_start: str | None = None
    embargo: int = 0
    rebalance: str = "v2"
    # training
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 1e-4
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 0
    # evaluation and output
    probe: str = "logreg"
    out: str | None = None

    # -- conversions -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (None kept; ``to_toml`` leaves None out)."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return dumps_toml(self.to_dict())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the configuration as TOML, atomically (temp file, then rename)."""
        return write_toml(path, self.to_dict())

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], origin: str = "configuration") -> "RunConfig":
        """A checked RunConfig from defaults updated by ``values``."""
        return _apply(cls(), values, origin)


_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
# The type a value of each field must have (None allowed where the default is None).
_TYPES: dict[str, type] = {
    "encoder_kwargs": dict, "method_kwargs": dict, "tickers": list,
    "window": int, "horizon": int, "embargo": int, "epochs": int, "max_steps": int,
    "batch_size": int, "seed": int,
    "test_frac": float, "lr": float, "weight_decay": float,
}
_OPTIONAL = {"start", "end", "cache_dir", "data", "test_start", "max_steps", "out"}


def _check_value(key: str, value: Any, origin: str) -> Any:
    want = _TYPES.get(key, str)
    if value is None:
        if key in _OPTIONAL:
            return None
        raise ValueError(f"{origin}: {key!r} must not be empty (expected {want.__name__})")
    if isinstance(value, (_dt.date, _dt.datetime)) and want is str:
        value = value.isoformat()[:10]  # TOML dates: keep them as YYYY-MM-DD strings
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and want is not bool:
        raise ValueError(f"{origin}: {key!r} must be {want.__name__}, got the boolean {value!r}")
    if not isinstance(value, want):
        raise ValueError(
            f"{origin}: {key!r} must be {want.__name__}, got {type(value).__name__} {value!r}"
        )
    if key == "tickers":
        bad = [t for t in value if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(f"{origin}: 'tickers' must be a list of ticker names, got {bad!r}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ValueError(
            f"{origin}: {key} = {value!r} is not accepted; choose one of "
            + ", ".join(_CHOICES[key])
        )
    positive = {"window": 2, "horizon": 1, "epochs": 1, "max_steps": 1, "batch_size": 1}
    if key in positive and value < positive[key]:
        raise ValueError(f"{origin}: {key} must be at least {positive[key]}, got {value}")
    if key == "test_frac" and not 0.0 < value < 1.0:
        raise ValueError(f"{origin}: test_frac must lie strictly between 0 and 1, got {value}")
    if key in ("lr", "weight_decay") and (not math.isfinite(value) or value < 0 or
                                          (key == "lr" and value == 0)):
        raise ValueError(f"{origin}: {key} must be a finite number > 0, got {value}")
    if key == "embargo" and value < 0:
        raise ValueError(f"{origin}: embargo must be >= 0 days, got {value}")
    return value


def _apply(cfg: RunConfig, values: Mapping[str, Any], origin: str) -> RunConfig:
    """``cfg`` updated by ``values`` (checked). A layer naming tickers or a data file also
    selects that source unless it sets ``source`` itself."""
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ValueError(
            f"{origin}: unknown key(s) {', '.join(map(repr, unknown))}; accepted keys: "
            + ", ".join(_FIELDS)
        )
    updates = {k: _check_value(k, v, origin) for k, v in values.items()}
    if "source" not in updates:
        if updates.get("data"):
            updates["source"] = "file"
        elif updates.get("tickers"):
            updates["source"] = "tickers"
    if "encoder_kwargs" in updates:  # a layer's sizes add to / override the earlier ones
        updates["encoder_kwargs"] = {**cfg.encoder_kwargs, **updates["encoder_kwargs"]}
    if "method_kwargs" in updates:
        updates["method_kwargs"] = {**cfg.method_kwargs, **updates["method_kwargs"]}
    return dataclasses.replace(cfg, **updates)


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


def resolve_config(
    file: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    file_values: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Defaults, then the TOML ``file``'s keys, then ``overrides`` (flags given; None = not
    given, skipped). The encoder sizes default to ``DEFAULT_ENCODER_KWARGS[encoder]`` under
    whatever the file and flags set; the source's own arguments are checked for coherence.
    ``file_values``: the file's keys when the caller has read it already (``tsssl report``
    takes its own ``[report]`` table out first); errors still name ``file``."""
    cfg = RunConfig()
    if file is not None:
        values = load_toml(file) if file_values is None else file_values
        cfg = _apply(cfg, values, f"config file {str(file)!r}")
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    cfg = _apply(cfg, given, "command line")
    # Default sizes of the chosen encoder sit under the user's own encoder_kwargs.
    cfg.encoder_kwargs = {**DEFAULT_ENCODER_KWARGS.get(cfg.encoder, {}), **cfg.encoder_kwargs}
    if cfg.source == "tickers" and not cfg.tickers:
        raise ValueError("source 'tickers' needs at least one ticker (--tickers A B ...)")
    if cfg.source == "file" and not cfg.data:
        raise ValueError("source 'file' needs a price file (--data PATH)")
    if cfg.start and cfg.end and cfg.start > cfg.end:
        raise ValueError(f"start {cfg.start} is after end {cfg.end}")
    for key in ("start", "end", "test_start"):
        value = getattr(cfg, key)
        if value is not None:
            try:
                _dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{key} = {value!r} is not a date; write YYYY-MM-DD") from None
    return cfg


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
        return "{" + ", ".join(f"{_key(str(k))} = {_value(x, where)}"
                               for k, x in v.items() if x is not None) + "}"
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
