"""The digits: shapes and scale, and a seeded split stratified by label."""

import numpy as np
import pytest

from tsssl.data.image import DIGIT_NAMES, digits_split, load_digits_images, stratified_split_indices


def test_digits_are_scaled_images_with_labels():
    X, y = load_digits_images()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10)) and len(DIGIT_NAMES) == 10
    big, _ = load_digits_images(16)
    assert big.shape == (1797, 1, 16, 16)
    assert np.allclose(big.mean(axis=(1, 2, 3)), X.mean(axis=(1, 2, 3)), atol=0.02)  # same picture, more pixels
    with pytest.raises(ValueError, match="size"):
        load_digits_images(4)


def test_split_is_stratified_disjoint_and_seeded():
    y = np.repeat(np.arange(4), [40, 20, 12, 8])
    tr, te = stratified_split_indices(y, test_frac=0.25, seed=3)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
    assert np.bincount(y[te]).tolist() == [10, 5, 3, 2]
    tr2, te2 = stratified_split_indices(y, test_frac=0.25, seed=3)
    assert np.array_equal(te, te2)
    assert not np.array_equal(te, stratified_split_indices(y, test_frac=0.25, seed=4)[1])
    with pytest.raises(ValueError, match="single sample"):
        stratified_split_indices(np.array([0, 0, 1]), 0.5)
    with pytest.raises(ValueError, match="test_frac"):
        stratified_split_indices(y, 1.0)


def test_digits_split_keeps_class_shares():
    sp = digits_split(test_frac=0.25, seed=0)
    assert len(sp.X_train) + len(sp.X_test) == 1797
    share_train = np.bincount(sp.y_train) / len(sp.y_train)
    share_test = np.bincount(sp.y_test) / len(sp.y_test)
    assert np.abs(share_train - share_test).max() < 0.01
    assert "stratified" in sp.describe()
