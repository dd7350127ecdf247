"""The nn.Module wrappers call the pure functions with their stored, checked configuration."""

import pytest
import torch

import tsssl.losses as L

g = torch.Generator().manual_seed(0)
Z1, Z2, Z3 = (torch.randn(6, 4, generator=g) for _ in range(3))
Y = torch.tensor([0, 1, 0, 1, 2, 2])

CASES = [
    (L.InfoNCE(temperature=0.3), (Z1, Z2), lambda: L.info_nce(Z1, Z2, temperature=0.3)),
    (L.NTXent(temperature=0.2), (Z1, Z2), lambda: L.nt_xent(Z1, Z2, temperature=0.2)),
    (L.NPair(l2_reg=0.1), (Z1, Z2), lambda: L.n_pair(Z1, Z2, l2_reg=0.1)),
    (L.SupCon(temperature=0.2), (Z1, Y), lambda: L.supcon(Z1, Y, temperature=0.2)),
    (L.SoftNearestNeighbors(temperature=2.0), (Z1, Y), lambda: L.soft_nearest_neighbors(Z1, Y, temperature=2.0)),
    (L.ContrastivePair(margin=2.0), (Z1, Z2, Y == 0), lambda: L.contrastive_pair(Z1, Z2, Y == 0, margin=2.0)),
    (L.TripletMargin(margin=0.5), (Z1, Z2, Z3), lambda: L.triplet_margin(Z1, Z2, Z3, margin=0.5)),
    (L.LiftedStructured(margin=0.5), (Z1, Y), lambda: L.lifted_structured(Z1, Y, margin=0.5)),
    (L.NCE(), (Z1[:, 0], Z2), lambda: L.nce(Z1[:, 0], Z2)),
    (L.NegativeCosine(), (Z1, Z2), lambda: L.negative_cosine(Z1, Z2)),
    (L.BarlowTwins(lambd=0.1), (Z1, Z2), lambda: L.barlow_twins(Z1, Z2, lambd=0.1)),
    (L.VICReg(cov_coeff=2.0), (Z1, Z2), lambda: L.vicreg(Z1, Z2, cov_coeff=2.0)),
]


@pytest.mark.parametrize("module, args, expected", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_module_equals_function(module, args, expected):
    torch.testing.assert_close(module(*args), expected())
    assert type(module).__name__ in repr(module)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.InfoNCE(temperature=0), "temperature"),
        (lambda: L.NTXent(temperature=-1), "temperature"),
        (lambda: L.SupCon(temperature=0), "temperature"),
        (lambda: L.TripletMargin(margin=-1), "margin"),
        (lambda: L.BarlowTwins(lambd=-1), "lambd"),
        (lambda: L.VICReg(sim_coeff=-1), "sim_coeff"),
    ],
)
def test_bad_config_fails_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()
