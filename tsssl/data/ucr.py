"""The public classification sets that time-series SSL papers report (UCR / UEA archives), offline.

    from tsssl.data import load_classification, znormalise, class_labels
    X_train, y_train, X_test, y_test = load_classification("ArrowHead")
    X_train.shape, X_train.dtype        # (36, 251, 1) float32: (series, time steps, channels)
    y_train.dtype                       # int64 class indices 0 .. K-1
    class_labels("ArrowHead")           # ('0', '1', '2'): y == i means the file's label i-th here
    X, y = load_classification("OSULeaf", split="test")

Four sets are bundled (``CLASSIFICATION_SETS``), gzip-compressed ``.ts`` files in the
repository's ``data/ucr/`` (installed as ``tsssl/_sample/ucr``), taken from the ``aeon`` 1.6.0
wheel (BSD-3-Clause); provenance, licence and the archives' citation: data/README.md.

=====================  =======  ======  ======  ========  =======
set                    train    test    length  channels  classes
=====================  =======  ======  ======  ========  =======
ArrowHead              36       175     251     1         3
ItalyPowerDemand       67       1,029   24      1         2
OSULeaf                200      242     427     1         6
JapaneseVowels (eq)    270      370     25      12        9
=====================  =======  ======  ======  ========  =======

JapaneseVowels is the equal-length version that aeon ships (``JapaneseVowels_eq_*.ts``: every
utterance brought to 25 steps); the original has lengths 7 to 29.

Labels: ``y`` holds indices into the labels that the file's ``@classLabel`` header declares,
in the header's order (``class_labels(name)``), so train and test share one mapping. The series
are returned as stored: the UCR archive stores each univariate series z-normalised already,
JapaneseVowels is not; ``znormalise`` does it per series and channel.

The ``.ts`` reader (``read_ts`` / ``parse_ts``) handles what these files use: ``#`` comment
lines, the header (``@problemName``, ``@timeStamps``, ``@missing``, ``@univariate``,
``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@classLabel``; keys in any case,
unknown keys ignored) and, after ``@data``, one series per line: its dimensions separated by
``:``, the values of a dimension by ``,``, the class label last; ``?`` is a missing value
(NaN). Time-stamped, unequal-length and unlabelled files are refused with a ValueError.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple, overload

import numpy as np

__all__ = [
    "CLASSIFICATION_SETS",
    "ClassificationData",
    "TsFile",
    "class_labels",
    "load_classification",
    "parse_ts",
    "read_ts",
    "ucr_dir",
    "znormalise",
]

#: the bundled sets, by the name ``load_classification`` takes
CLASSIFICATION_SETS: tuple[str, ...] = ("ArrowHead", "ItalyPowerDemand", "OSULeaf", "JapaneseVowels")
# file stem of each set in data/ucr/ (<stem>_TRAIN.ts.gz, <stem>_TEST.ts.gz)
_FILE_STEMS = {name: name for name in CLASSIFICATION_SETS} | {"JapaneseVowels": "JapaneseVowels_eq"}
SPLITS = ("train", "test")


class ClassificationData(NamedTuple):
    """One set's two splits; unpacks as ``X_train, y_train, X_test, y_test``.

    X_*: (N, T, C) float32 series; y_*: (N,) int64 indices into ``class_labels(name)``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class TsFile:
    """A parsed ``.ts`` classification file.

    X: (N, T, C) float32 (NaN where the file has ``?``); labels: (N,) str, as written;
    class_labels: the labels ``@classLabel`` declares, in its order; y: (N,) int64 index of each
    series' label in ``class_labels``; problem_name: ``@problemName`` ("" when absent).
    """

    problem_name: str
    X: np.ndarray
    labels: np.ndarray
    class_labels: tuple[str, ...]

    @property
    def y(self) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.class_labels)}
        return np.fromiter((index[s] for s in self.labels), dtype=np.int64, count=len(self.labels))


# -- the .ts format ------------------------------------------------------------------------------
def _flag(value: str, key: str, source: str) -> bool:
    low = value.strip().lower()
    if low not in ("true", "false"):
        raise ValueError(f"{source}: @{key} must be true or false, got {value!r}")
    return low == "true"


def _read_header(lines: list[str], source: str) -> tuple[dict[str, str], int]:
    """The header's ``@key value`` pairs (keys lower-case) and the index of the first data line."""
    header: dict[str, str] = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise ValueError(f"{source}, line {i + 1}: a data line before @data")
        key, _, value = line[1:].partition(" ")
        key = key.lower()
        if key == "data":
            return header, i + 1
        header[key] = value.strip()
    raise ValueError(f"{source}: no @data line")


def _check_header(header: dict[str, str], source: str) -> tuple[tuple[str, ...], int | None, int | None]:
    """Refuse what the reader does not handle; (declared class labels, channels, length or None)."""
    if _flag(header.get("timestamps", "false"), "timeStamps", source):
        raise ValueError(f"{source}: time-stamped series (@timeStamps true) are not supported")
    if not _flag(header.get("equallength", "true"), "equalLength", source):
        raise ValueError(f"{source}: unequal-length series (@equalLength false) are not supported")
    words = header.get("classlabel", "false").split()
    if not words or not _flag(words[0], "classLabel", source) or len(words) < 2:
        raise ValueError(f"{source}: not a classification file (@classLabel true followed by the labels)")
    classes = tuple(words[1:])
    if len(set(classes)) != len(classes):
        raise ValueError(f"{source}: @classLabel declares a label twice: {' '.join(classes)}")
    channels = int(header["dimensions"]) if "dimensions" in header else None
    if _flag(header.get("univariate", "false"), "univariate", source):
        if channels not in (None, 1):
            raise ValueError(f"{source}: @univariate true but @dimensions {channels}")
        channels = 1
    length = int(header["serieslength"]) if "serieslength" in header else None
    return classes, channels, length


def _parse_series(line: str, where: str) -> tuple[list[np.ndarray], str]:
    """One data line -> (its dimensions as float64 arrays, its label)."""
    body, sep, label = line.rpartition(":")
    if not sep or not body:
        raise ValueError(f"{where}: no ':' before the class label")
    try:
        dims = [np.array(d.replace("?", "nan").split(","), dtype=np.float64) for d in body.split(":")]
    except ValueError as err:
        raise ValueError(f"{where}: not a list of numbers ({err})") from None
    return dims, label.strip()


def parse_ts(text: str, source: str = "<string>") -> TsFile:
    """Parse the text of a ``.ts`` classification file (see the module docstring).

    Every series must have the same number of channels and length, matching ``@dimensions`` /
    ``@seriesLength`` when declared, and a label that ``@classLabel`` declares; otherwise a
    ValueError names ``source`` and the line.
    """
    lines = text.splitlines()
    header, start = _read_header(lines, source)
    classes, channels, length = _check_header(header, source)
    series: list[np.ndarray] = []
    labels: list[str] = []
    expected: tuple[int, int] | None = None  # (length, channels): declared, else the first series'
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {i + 1}"
        dims, label = _parse_series(line, where)
        shape = (len(dims[0]), len(dims))
        if any(len(d) != shape[0] for d in dims):
            raise ValueError(f"{where}: channels of different lengths {[len(d) for d in dims]}")
        if expected is None:
            expected = (length or shape[0], channels or shape[1])
        if shape != expected:
            raise ValueError(
                f"{where}: {shape[1]} channel(s) of length {shape[0]}; expected {expected[1]} of {expected[0]}"
            )
        if label not in classes:
            raise ValueError(f"{where}: label {label!r} is not one of @classLabel's {', '.join(classes)}")
        series.append(np.stack(dims, axis=1))
        labels.append(label)
    if not series:
        raise ValueError(f"{source}: no series after @data")
    X = np.stack(series).astype(np.float32)
    return TsFile(header.get("problemname", ""), X, np.array(labels, dtype=str), classes)


def read_ts(path: str | os.PathLike) -> TsFile:
    """Read a ``.ts`` file (or ``.ts.gz``, gzip-compressed) with :func:`parse_ts`."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return parse_ts(fh.read(), source=path.name)


# -- the bundled sets ------------------------------------------------------------------------------
def ucr_dir() -> Path:
    """The folder of the bundled ``.ts.gz`` files: ``tsssl/_sample/ucr`` in an installed wheel,
    the repository's ``data/ucr`` in a checkout or an editable install."""
    import tsssl

    here = Path(tsssl.__file__).resolve().parent
    for folder in (here / "_sample" / "ucr", here.parent / "data" / "ucr"):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"the bundled UCR/UEA sets are missing from {here / '_sample' / 'ucr'}; reinstall tsssl")


def _check_name(name: str) -> str:
    if name not in CLASSIFICATION_SETS:
        raise ValueError(f"unknown classification set {name!r}; accepted: {', '.join(CLASSIFICATION_SETS)}")
    return name


@lru_cache(maxsize=2 * len(CLASSIFICATION_SETS))
def _read_split(name: str, split: str) -> TsFile:
    return read_ts(ucr_dir() / f"{_FILE_STEMS[name]}_{split.upper()}.ts.gz")


def class_labels(name: str) -> tuple[str, ...]:
    """The original labels of set ``name``, in the order of its ``@classLabel`` header:
    ``y == i`` in ``load_classification(name)`` means the label ``class_labels(name)[i]``."""
    return _read_split(_check_name(name), "train").class_labels


def _split_arrays(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    ts = _read_split(name, split)
    if ts.class_labels != class_labels(name):  # one mapping for both splits
        raise ValueError(f"{name}: the {split} file declares other class labels than the train file")
    return ts.X.copy(), ts.y  # copies: the parsed files are cached


@overload
def load_classification(name: str, split: None = None) -> ClassificationData: ...
@overload
def load_classification(name: str, split: Literal["train", "test"]) -> tuple[np.ndarray, np.ndarray]: ...
def load_classification(name: str, split: str | None = None) -> ClassificationData | tuple[np.ndarray, np.ndarray]:
    """A bundled classification set (``CLASSIFICATION_SETS``), offline, as stored (not normalised).

    split None: ``ClassificationData(X_train, y_train, X_test, y_test)`` (unpacks as 4 arrays);
    "train" / "test": ``(X, y)`` of that split. X: (N, T, C) float32 (series, time steps,
    channels); y: (N,) int64 class indices into ``class_labels(name)``. Unknown name or split:
    ValueError listing the accepted ones.
    """
    _check_name(name)
    if split is None:
        return ClassificationData(*_split_arrays(name, "train"), *_split_arrays(name, "test"))
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; accepted: None (both), {', '.join(SPLITS)}")
    return _split_arrays(name, split)


def znormalise(X: np.ndarray) -> np.ndarray:
    """Each series' channel to mean 0 and standard deviation 1 over time, as the UCR archive and
    the SSL papers' loaders present series.

    X: (N, T, C) -> (N, T, C) float32; the statistics are over the T axis (population std,
    computed in float64). A channel that is constant over time (all T values equal, so its std
    is 0) becomes zeros rather than NaN: it carries no shape to normalise. NaN values make
    their channel NaN.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must be series of shape (N, T, C), got shape {X.shape}")
    mean = X.mean(axis=1, keepdims=True)
    std = X.std(axis=1, keepdims=True)
    # exactly-constant channels; testing std == 0 would miss those whose mean rounds
    constant = np.ptp(X, axis=1, keepdims=True) == 0
    out = (X - mean) / np.where(constant, 1.0, std)
    return np.where(constant, 0.0, out).astype(np.float32)
