"""Thin ``nn.Module`` wrappers holding a loss's configuration (checked at construction).

``forward`` calls the pure function of the same name with the stored keywords; the functions
stay the single source of the maths. Stateful pieces (MoCo's queue) live in :mod:`.queue`.
"""

from __future__ import annotations

from torch import Tensor, nn

from ._checks import check_nonnegative, check_temperature
from .info_nce import info_nce, n_pair, nt_xent
from .nce import nce
from .pairwise import contrastive_pair, lifted_structured, triplet_margin
from .predictive import negative_cosine
from .redundancy import barlow_twins, vicreg
from .supervised import soft_nearest_neighbors, supcon


class _Configured(nn.Module):
    def __init__(self, **config) -> None:
        super().__init__()
        self.config = config

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


class InfoNCE(_Configured):
    """``info_nce(query, keys, positive_mask=None)`` with a fixed temperature."""

    def __init__(self, temperature: float = 0.1, normalize: bool = True, gather: bool = True) -> None:
        check_temperature(temperature)
        super().__init__(temperature=temperature, normalize=normalize, gather=gather)

    def forward(self, query: Tensor, keys: Tensor, positive_mask: Tensor | None = None) -> Tensor:
        return info_nce(query, keys, positive_mask, **self.config)


class NTXent(_Configured):
    """SimCLR's ``nt_xent(z1, z2)``."""

    def __init__(self, temperature: float = 0.5, normalize: bool = True, gather: bool = True) -> None:
        check_temperature(temperature)
        super().__init__(temperature=temperature, normalize=normalize, gather=gather)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return nt_xent(z1, z2, **self.config)


class NPair(_Configured):
    """``n_pair(anchor, positive)``."""

    def __init__(self, l2_reg: float = 0.0, gather: bool = True) -> None:
        check_nonnegative(l2_reg, "l2_reg")
        super().__init__(l2_reg=l2_reg, gather=gather)

    def forward(self, anchor: Tensor, positive: Tensor) -> Tensor:
        return n_pair(anchor, positive, **self.config)


class SupCon(_Configured):
    """``supcon(embeddings, labels)``."""

    def __init__(self, temperature: float = 0.1, normalize: bool = True, gather: bool = True) -> None:
        check_temperature(temperature)
        super().__init__(temperature=temperature, normalize=normalize, gather=gather)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return supcon(embeddings, labels, **self.config)


class SoftNearestNeighbors(_Configured):
    """``soft_nearest_neighbors(embeddings, labels)``."""

    def __init__(self, temperature: float = 1.0, gather: bool = True) -> None:
        check_temperature(temperature)
        super().__init__(temperature=temperature, gather=gather)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return soft_nearest_neighbors(embeddings, labels, **self.config)


class ContrastivePair(_Configured):
    """``contrastive_pair(z1, z2, same)``."""

    def __init__(self, margin: float = 1.0) -> None:
        check_nonnegative(margin, "margin")
        super().__init__(margin=margin)

    def forward(self, z1: Tensor, z2: Tensor, same: Tensor) -> Tensor:
        return contrastive_pair(z1, z2, same, **self.config)


class TripletMargin(_Configured):
    """``triplet_margin(anchor, positive, negative)``."""

    def __init__(self, margin: float = 1.0) -> None:
        check_nonnegative(margin, "margin")
        super().__init__(margin=margin)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin(anchor, positive, negative, **self.config)


class LiftedStructured(_Configured):
    """``lifted_structured(embeddings, labels)``."""

    def __init__(self, margin: float = 1.0, gather: bool = True) -> None:
        check_nonnegative(margin, "margin")
        super().__init__(margin=margin, gather=gather)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return lifted_structured(embeddings, labels, **self.config)


class NCE(_Configured):
    """``nce(scores_data, scores_noise)``."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, scores_data: Tensor, scores_noise: Tensor) -> Tensor:
        return nce(scores_data, scores_noise)


class NegativeCosine(_Configured):
    """BYOL / SimSiam's ``negative_cosine(p, z)`` (stop-gradient on z)."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, p: Tensor, z: Tensor) -> Tensor:
        return negative_cosine(p, z)


class BarlowTwins(_Configured):
    """``barlow_twins(z1, z2)``."""

    def __init__(self, lambd: float = 5e-3, eps: float = 1e-5, gather: bool = True) -> None:
        check_nonnegative(lambd, "lambd")
        super().__init__(lambd=lambd, eps=eps, gather=gather)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return barlow_twins(z1, z2, **self.config)


class VICReg(_Configured):
    """``vicreg(z1, z2)`` with the paper's coefficients by default."""

    def __init__(
        self,
        sim_coeff: float = 25.0,
        std_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        eps: float = 1e-4,
        gather: bool = True,
    ) -> None:
        for name, value in (("sim_coeff", sim_coeff), ("std_coeff", std_coeff), ("cov_coeff", cov_coeff)):
            check_nonnegative(value, name)
        super().__init__(sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff, eps=eps, gather=gather)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return vicreg(z1, z2, **self.config)
