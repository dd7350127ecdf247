"""sRGB <-> CIE L*a*b* against published reference values, the ab bins, and colorization's
class-rebalancing weights against a hand-worked example."""

import numpy as np
import pytest

from tsssl.data.colour import ab_gamut_bins, lab_to_srgb, nearest_bin, rebalance_weights, srgb_to_lab

# sRGB (8-bit) -> L*, a*, b* (D65), the values colour converters (e.g. Bruce Lindbloom's) give
REFERENCES = [
    ((255, 255, 255), (100.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((255, 0, 0), (53.24, 80.09, 67.20)),
    ((0, 255, 0), (87.73, -86.18, 83.18)),
    ((0, 0, 255), (32.30, 79.19, -107.86)),
    ((128, 128, 128), (53.59, 0.0, 0.0)),
]


@pytest.mark.parametrize("rgb,lab", REFERENCES)
def test_srgb_to_lab_matches_reference_values(rgb, lab):
    got = srgb_to_lab(np.array(rgb) / 255.0)
    assert np.allclose(got, lab, atol=0.01), (rgb, got, lab)


def test_lab_to_srgb_inverts_srgb_to_lab_on_a_batch():
    rgb = np.random.default_rng(0).random((4, 5, 3))
    lab = srgb_to_lab(rgb)
    assert lab.shape == (4, 5, 3)
    assert np.allclose(lab_to_srgb(lab), rgb, atol=1e-9)
    assert np.allclose(lab_to_srgb(np.array([53.24, 80.09, 67.20])), [1.0, 0.0, 0.0], atol=1e-3)


def test_bad_colour_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        srgb_to_lab(np.array([255.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        srgb_to_lab(np.zeros((4, 2)))


def test_gamut_bins_are_the_grid_cells_srgb_colours_reach():
    c = ab_gamut_bins(grid=10.0)
    assert c.shape[1] == 2 and 250 <= len(c) <= 320  # the paper counts 313
    assert np.all(c % 10 == 0) and [0.0, 0.0] in c.tolist()
    assert [80.0, 70.0] in c.tolist()  # pure red (a 80.1, b 67.2)
    assert [-80.0, -80.0] not in c.tolist()  # no sRGB colour is that blue-green
    assert nearest_bin(np.array([[81.0, 66.0], [1.0, -2.0]]), c).tolist() == [
        c.tolist().index([80.0, 70.0]),
        c.tolist().index([0.0, 0.0]),
    ]


def test_rebalance_weights_by_hand():
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    # no smoothing: p = (0.75, 0.25); 1 / (0.5 p + 0.5 / 2) = (1.6, 2.6667); scaled so that
    # 0.75 w0 + 0.25 w1 = 1: k (1.2 + 0.66667) = 1, k = 0.535714
    w = rebalance_weights(np.array([3.0, 1.0]), centres, lam=0.5, sigma=0.0)
    assert np.allclose(w, [0.857143, 1.428571], atol=1e-5)
    # smoothing, sigma 5: the bins 10 apart share exp(-100 / 50) = 0.135335 of each other's mass:
    # (0.75 + 0.25 * 0.135335, 0.25 + 0.75 * 0.135335) = (0.783834, 0.351501) -> (0.690398, 0.309602)
    p = np.array([0.690398, 0.309602])
    expected = 1.0 / (0.5 * p + 0.25)
    expected /= p @ expected
    assert np.allclose(rebalance_weights(np.array([3.0, 1.0]), centres, sigma=5.0), expected, atol=1e-5)
    # the uniform distribution needs no rebalancing
    assert np.allclose(rebalance_weights(np.ones(2), centres, sigma=5.0), [1.0, 1.0])
    with pytest.raises(ValueError, match="lam must lie in"):
        rebalance_weights(np.ones(2), centres, lam=0.0)
