"""Self-supervised and supervised methods: each names its encoder(s), heads, views and loss and
implements ``training_step(batch) -> loss`` for the one Trainer.

Windows: ``SiamCL``, ``CPC``, ``SimCLR``, ``MoCo``, ``BYOL``, ``SimSiam``, ``BarlowTwins``,
``SupervisedBaseline``; by name (``tsssl.registry``): ``METHODS`` and ``build_method``. Fine-tuning a pretrained
encoder with a classifier head: ``FineTune`` and ``finetune(encoder, data)``.

Images and text (``tsssl train --modality image | text``; SimCLR, MoCo, BYOL, SimSiam, Barlow
Twins and CPC are the classes above with an image encoder): ``RotNet``, ``Jigsaw``,
``ContextEncoder``, ``RelativePosition``, ``DenoisingAutoencoder``, ``VAE``, ``CLIP``,
``Word2Vec``, ``MaskedLM``, ``SimCSE``. These load on first use (the text ones pull in the data
package), so that ``import tsssl.methods`` stays cheap for the window methods.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .barlow import BarlowTwins
from .base import Method, TwoViewMethod
from .build import METHODS, StandardizedEncoder, build_method, channel_stats
from .byol import BYOL
from .cpc import CPC, CPCContextEncoder
from .finetune import FineTune, finetune  # binds the name to the function, not the submodule
from .moco import MoCo
from .siamcl import SiamCL
from .simclr import SimCLR
from .simsiam import SimSiam
from .supervised import SupervisedBaseline

#: method classes loaded on first access (images / text, and the window families added later):
#: name -> submodule
_LAZY = {
    "DeepCluster": "deepcluster",
    "SwAV": "swav",
    "NNCLR": "nnclr",
    "InstDisc": "instdisc",
    "MaskedReconstruction": "masked",
    "OrderVerification": "order",
    "ArrowOfTime": "arrow",
    "TCN": "tcn",
    "Autoregressive": "autoregressive",
    "TLoss": "tloss",
    "TSTCC": "tstcc",
    "TNC": "tnc",
    "Hierarchical": "hierarchical",
    "RotNet": "rotnet",
    "Jigsaw": "jigsaw",
    "ContextEncoder": "inpainting",
    "RelativePosition": "relpos",
    "DenoisingAutoencoder": "dae",
    "VAE": "vae",
    "CLIP": "clip",
    "Word2Vec": "word2vec",
    "MaskedLM": "mlm",
    "SimCSE": "simcse",
}

__all__ = [
    "Method",
    "TwoViewMethod",
    "METHODS",
    "build_method",
    "channel_stats",
    "StandardizedEncoder",
    "SiamCL",
    "CPC",
    "CPCContextEncoder",
    "SimCLR",
    "MoCo",
    "BYOL",
    "SimSiam",
    "BarlowTwins",
    "SupervisedBaseline",
    "FineTune",
    "finetune",
    "RotNet",
    "Jigsaw",
    "ContextEncoder",
    "RelativePosition",
    "DenoisingAutoencoder",
    "VAE",
    "CLIP",
    "Word2Vec",
    "MaskedLM",
    "SimCSE",  # the keys of _LAZY
    "DeepCluster",
    "SwAV",
    "NNCLR",
    "InstDisc",
    "MaskedReconstruction",
    "OrderVerification",
    "ArrowOfTime",
    "TCN",
    "Autoregressive",
    "TLoss",
    "TSTCC",
    "TNC",
    "Hierarchical",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
