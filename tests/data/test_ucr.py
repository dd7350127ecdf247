"""tsssl.data.ucr: the bundled UCR / UEA sets load with their published shapes, the .ts reader
parses hand-written files exactly and refuses what it does not handle, znormalise is per series
and channel."""

import gzip

import numpy as np
import pytest

from tsssl import data
from tsssl.data import ucr
from tsssl.data.ucr import CLASSIFICATION_SETS, class_labels, load_classification, parse_ts, read_ts, znormalise

# (train, test, length, channels, classes) as the archives publish them
SHAPES = {
    "ArrowHead": (36, 175, 251, 1, 3),
    "ItalyPowerDemand": (67, 1029, 24, 1, 2),
    "OSULeaf": (200, 242, 427, 1, 6),
    "JapaneseVowels": (270, 370, 25, 12, 9),
}

UNIVARIATE = """\
# a comment line
#   and another one
@problemName Tiny
@timeStamps false
@missing true
@univariate true
@equalLength true
@seriesLength 4
@classLabel true a b c

@data
1,2,3,4:b
0.5,-1.25,1e-3,?:a
4,3,2,1:b
"""

MULTIVARIATE = """\
@problemName TinyMulti
@timestamps false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true 1 2
@data
1,2,3:10,20,30:2
-1,-2,-3:0,0,0:1
"""


def test_exports_and_names():
    assert CLASSIFICATION_SETS == ("ArrowHead", "ItalyPowerDemand", "OSULeaf", "JapaneseVowels")
    assert set(SHAPES) == set(CLASSIFICATION_SETS)
    assert data.load_classification is load_classification and data.znormalise is znormalise


@pytest.mark.parametrize("name", CLASSIFICATION_SETS)
def test_bundled_set_shapes(name):
    n_train, n_test, length, channels, classes = SHAPES[name]
    X_train, y_train, X_test, y_test = load_classification(name)
    assert X_train.shape == (n_train, length, channels) and X_test.shape == (n_test, length, channels)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.shape == (n_train,) and y_test.shape == (n_test,)
    assert y_train.dtype == y_test.dtype == np.int64
    assert len(class_labels(name)) == classes
    # every class appears in both splits, and the indices cover 0 .. K-1 exactly
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(classes))
    assert np.isfinite(X_train).all() and np.isfinite(X_test).all()


def test_labels_keep_the_files_mapping():
    assert class_labels("ArrowHead") == ("0", "1", "2")
    assert class_labels("ItalyPowerDemand") == ("1", "2")
    # ArrowHead's training file holds 12 series of each class, OSULeaf's 15 of its sixth
    assert np.bincount(load_classification("ArrowHead").y_train).tolist() == [12, 12, 12]
    assert np.bincount(load_classification("OSULeaf", split="train")[1])[5] == 15


def test_first_values_are_the_files():
    # ItalyPowerDemand_TRAIN.ts, first data line: -0.71051757,-1.1833204,... label 1
    X, y = load_classification("ItalyPowerDemand", split="train")
    np.testing.assert_array_equal(X[0, :3, 0], np.float32([-0.71051757, -1.1833204, -1.3724416]))
    assert y[0] == class_labels("ItalyPowerDemand").index("1")
    # JapaneseVowels_eq_TRAIN.ts, first line: channel 0 starts 1.860936, channel 1 -0.207383
    Xj, _ = load_classification("JapaneseVowels", split="train")
    np.testing.assert_array_equal(Xj[0, 0, :2], np.float32([1.860936, -0.207383]))


def test_split_selects_one_and_returns_copies():
    both = load_classification("ArrowHead")
    X_test, y_test = load_classification("ArrowHead", split="test")
    np.testing.assert_array_equal(X_test, both.X_test)
    np.testing.assert_array_equal(y_test, both.y_test)
    X_test[:] = 0  # the cache behind the loader is not touched
    assert np.abs(load_classification("ArrowHead", split="test")[0]).sum() > 0


def test_unknown_name_or_split_lists_the_accepted():
    with pytest.raises(
        ValueError,
        match="unknown classification set 'FordA'; accepted: ArrowHead, ItalyPowerDemand, OSULeaf, JapaneseVowels",
    ):
        load_classification("FordA")
    with pytest.raises(ValueError, match="accepted: ArrowHead"):
        class_labels("arrowhead")
    with pytest.raises(ValueError, match="unknown split 'valid'; accepted: None .both., train, test"):
        load_classification("ArrowHead", split="valid")


def test_parse_univariate_exactly():
    ts = parse_ts(UNIVARIATE)
    assert ts.problem_name == "Tiny" and ts.class_labels == ("a", "b", "c")
    assert ts.X.shape == (3, 4, 1) and ts.X.dtype == np.float32
    np.testing.assert_array_equal(ts.X[0, :, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(ts.X[1, :3, 0], np.float32([0.5, -1.25, 1e-3]))
    assert np.isnan(ts.X[1, 3, 0])  # "?" is a missing value
    np.testing.assert_array_equal(ts.X[2, :, 0], [4, 3, 2, 1])
    assert ts.labels.tolist() == ["b", "a", "b"]
    assert ts.y.tolist() == [1, 0, 1] and ts.y.dtype == np.int64  # "c" is declared but unused


def test_parse_multivariate_exactly(tmp_path):
    path = tmp_path / "TinyMulti_TRAIN.ts.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(MULTIVARIATE)
    for ts in (parse_ts(MULTIVARIATE), read_ts(path)):
        assert ts.problem_name == "TinyMulti" and ts.X.shape == (2, 3, 2)
        np.testing.assert_array_equal(ts.X[0], [[1, 10], [2, 20], [3, 30]])  # (T, C): time down, channels across
        np.testing.assert_array_equal(ts.X[1], [[-1, 0], [-2, 0], [-3, 0]])
        assert ts.y.tolist() == [1, 0]
    plain = tmp_path / "plain.ts"
    plain.write_text(MULTIVARIATE)
    np.testing.assert_array_equal(read_ts(plain).X, parse_ts(MULTIVARIATE).X)


@pytest.mark.parametrize(
    "text,message",
    [
        (MULTIVARIATE.replace("1,2,3:10,20,30:2", "1,2,3:10,20:2"), r"line 9: channels of different lengths \[3, 2\]"),
        (MULTIVARIATE.replace("-1,-2,-3:0,0,0:1", "-1,-2,-3:1"), "line 10: 1 channel.s. of length 3; expected 2 of 3"),
        (
            MULTIVARIATE.replace("@seriesLength 3", "@seriesLength 4"),
            "line 9: 2 channel.s. of length 3; expected 2 of 4",
        ),
        (MULTIVARIATE.replace(":2\n", ":7\n"), "line 9: label '7' is not one of @classLabel's 1, 2"),
        (MULTIVARIATE.replace("1,2,3:10", "1,x,3:10"), "line 9: not a list of numbers"),
        (MULTIVARIATE.replace("@timestamps false", "@timestamps true"), "time-stamped"),
        (MULTIVARIATE.replace("@equalLength true", "@equalLength false"), "unequal-length"),
        (MULTIVARIATE.replace("@classLabel true 1 2", "@classLabel false"), "not a classification file"),
        (MULTIVARIATE.replace("@data\n", ""), "a data line before @data"),
        (MULTIVARIATE.split("@data")[0] + "@data\n", "no series after @data"),
        (
            UNIVARIATE.replace("@univariate true", "@univariate true\n@dimensions 3"),
            "@univariate true but @dimensions 3",
        ),
    ],
)
def test_parse_refuses_bad_files(text, message):
    with pytest.raises(ValueError, match=message):
        parse_ts(text, source="bad.ts")


def test_znormalise_per_series_and_channel():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[3.0, -50.0], scale=[0.2, 40.0], size=(5, 30, 2)).astype(np.float32)
    X[2, :, 1] = 7.5  # a constant channel of one series
    Z = znormalise(X)
    assert Z.shape == X.shape and Z.dtype == np.float32
    keep = np.ones((5, 2), dtype=bool)
    keep[2, 1] = False
    np.testing.assert_allclose(Z.mean(axis=1)[keep], 0.0, atol=1e-6)
    np.testing.assert_allclose(Z.std(axis=1)[keep], 1.0, atol=1e-5)
    assert (Z[2, :, 1] == 0).all()  # constant -> zeros, not NaN
    # one series' statistics never touch another's: normalising a slice gives the same values
    np.testing.assert_array_equal(znormalise(X[3:4]), Z[3:4])
    # shape is kept, offset and scale are not
    np.testing.assert_allclose(znormalise(X * 10 + 4), Z, atol=1e-5)


def test_znormalise_on_a_bundled_set_and_bad_shape():
    X, _ = load_classification("JapaneseVowels", split="test")
    Z = znormalise(X)
    np.testing.assert_allclose(Z.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match=r"\(N, T, C\)"):
        znormalise(X[0])


def test_files_are_found_in_the_checkout():
    folder = ucr.ucr_dir()
    assert sorted(p.name for p in folder.glob("*.ts.gz")) == sorted(
        f"{stem}_{split}.ts.gz"
        for stem in ("ArrowHead", "ItalyPowerDemand", "OSULeaf", "JapaneseVowels_eq")
        for split in ("TRAIN", "TEST")
    )
