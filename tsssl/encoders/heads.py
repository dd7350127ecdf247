"""MLP heads on top of an encoder's (B, D) representation."""

from __future__ import annotations

from torch import Tensor, nn

from tsssl.checks import check_positive


def _check_features(x: Tensor, in_dim: int, owner: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != in_dim:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner}: input must have shape (B, {in_dim}), got {shape}")


class ProjectionHead(nn.Module):
    """SimCLR / BYOL projector: (B, in_dim) -> (B, out_dim).

    ``layers`` linear layers; each but the last is followed by BatchNorm (if ``batchnorm``) and
    ReLU. layers=1 is a single linear map.
    """

    def __init__(
        self, in_dim: int, hidden_dim: int = 128, out_dim: int = 64, layers: int = 2, batchnorm: bool = True
    ) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim), ("layers", layers)):
            check_positive(value, name, "ProjectionHead")
        self.in_dim, self.out_dim = in_dim, out_dim
        mods: list[nn.Module] = []
        d = in_dim
        for _ in range(layers - 1):
            mods.append(nn.Linear(d, hidden_dim, bias=not batchnorm))  # BN's shift replaces the bias
            if batchnorm:
                mods.append(nn.BatchNorm1d(hidden_dim))
            mods.append(nn.ReLU(inplace=True))
            d = hidden_dim
        mods.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        _check_features(x, self.in_dim, "ProjectionHead")
        return self.net(x)


class PredictionHead(nn.Module):
    """BYOL / SimSiam predictor: Linear -> BatchNorm -> ReLU -> Linear, (B, in_dim) -> (B, out_dim).

    out_dim defaults to in_dim (the predictor maps a projection onto the other view's projection).
    """

    def __init__(self, in_dim: int, hidden_dim: int = 128, out_dim: int | None = None) -> None:
        super().__init__()
        out_dim = in_dim if out_dim is None else out_dim
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            check_positive(value, name, "PredictionHead")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        _check_features(x, self.in_dim, "PredictionHead")
        return self.net(x)


class ClassifierHead(nn.Module):
    """Logits (B, n_classes) from (B, in_dim): dropout + linear, or a one-hidden-layer MLP
    (Linear -> ReLU -> dropout -> Linear) when ``hidden_dim`` is given."""

    def __init__(self, in_dim: int, n_classes: int = 2, hidden_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive(in_dim, "in_dim", "ClassifierHead")
        check_positive(n_classes, "n_classes", "ClassifierHead")
        if hidden_dim is not None:
            check_positive(hidden_dim, "hidden_dim", "ClassifierHead")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ClassifierHead: dropout must be in [0, 1), got {dropout}")
        self.in_dim, self.out_dim, self.n_classes = in_dim, n_classes, n_classes
        if hidden_dim is None:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, n_classes))
        else:
            self.net = nn.Sequential(
                nn.Linear(in_dim, hidden_dim),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(hidden_dim, n_classes),
            )

    def forward(self, x: Tensor) -> Tensor:
        _check_features(x, self.in_dim, "ClassifierHead")
        return self.net(x)


def pixel_head(in_channels: int, hidden: int, out: int) -> nn.Module:
    """1x1 convs, an MLP applied to every cell of a feature map: (B, in_channels, h, w) ->
    (B, out, h, w) (colorization's per-cell ab classifier)."""
    for name, value in (("in_channels", in_channels), ("hidden", hidden), ("out", out)):
        check_positive(value, name, "pixel_head")
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, out, 1))
