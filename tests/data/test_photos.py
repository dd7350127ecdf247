"""scikit-learn's sample photographs as L*a*b* patches, split by region."""

import numpy as np
import pytest

from tsssl.data.photos import cut_patches, load_photos_lab, photo_patches


def test_cut_patches_takes_every_stride_th_window():
    img = np.arange(5 * 6 * 2, dtype=np.float32).reshape(5, 6, 2)
    p = cut_patches(img, size=3, stride=2)
    assert p.shape == (2 * 2, 2, 3, 3)
    assert np.array_equal(p[1], img[0:3, 2:5].transpose(2, 0, 1))  # row-major: second window of the first row
    assert np.array_equal(p[2], img[2:5, 0:3].transpose(2, 0, 1))
    with pytest.raises(ValueError, match="size must be in 1..5"):
        cut_patches(img, size=6, stride=1)


def test_photo_patches_split_by_region_with_balanced_labels():
    ph = photo_patches(size=16, scale=2, train_frac=0.75, stride=4, probe_size=8, probe_stride=8)
    # 213 x 320 photos, columns [0, 240) train, [240, 320) test
    assert ph.train.shape == (2 * ((213 - 16) // 4 + 1) * ((240 - 16) // 4 + 1), 3, 16, 16)
    p = ph.probe
    assert p.X_test.shape == (2 * ((213 - 8) // 8 + 1) * (80 // 8), 3, 8, 8)
    assert np.bincount(p.y_train).tolist() == [len(p.y_train) // 2] * 2 and set(p.y_test) == {0, 1}
    assert 0.0 <= ph.train[:, 0].min() and ph.train[:, 0].max() <= 100.0  # L in [0, 100]
    assert np.allclose(p.X_train[0] * 100, ph.train[0, :, :8, :8], atol=1e-3)  # both start at china's top-left
    assert ph.grey_probe.X_train.shape[1] == 1
    # the held-out patches are cut from columns 240 on, the training ones end before: no shared pixel
    photos = load_photos_lab(2)
    n = len(p.y_test) // 2
    assert np.allclose(p.X_test[:n] * 100, cut_patches(photos[0][:, 240:], 8, 8), atol=1e-3)
    assert np.allclose(p.X_test[n:] * 100, cut_patches(photos[1][:, 240:], 8, 8), atol=1e-3)
    assert np.allclose(ph.train[-1], cut_patches(photos[1][:, :240], 16, 4)[-1])
    with pytest.raises(ValueError, match="train_frac"):
        photo_patches(train_frac=1.0)
