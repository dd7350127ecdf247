"""Every method and option name of tsssl, in one place (no torch: the CLI reads it to build its parser).

    from tsssl import registry
    registry.names("timeseries")        # ('siamcl', 'cpc', ..., 'lstm')
    registry.get("siamcl").label        # 'SiamCL'
    registry.method_class("siamcl")     # tsssl.methods.siamcl.SiamCL, imported on first use

A :class:`MethodSpec` names a method's class (``"module:Class"``, imported lazily), its display
label and, per modality it runs on, the loss it trains with and its default training settings.
CLI choices, config validation, report labels, ``tsssl.methods.build_method`` and the image /
text experiments all read this table. Whether a method trains on labels is the class attribute
``Method.uses_labels`` (:func:`uses_labels` reads it), never a test of the name.

Adding a method: one file in ``tsssl/methods/`` and one entry in ``METHODS`` below (see
docs/design.md, "Adding a method").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

# -- option names ------------------------------------------------------------------------
MODALITIES = ("timeseries", "image", "text")
#: window encoders by name: their class as "module:Class" (tsssl.encoders.build_encoder)
ENCODER_CLASSES = {
    "lstm": "tsssl.encoders.lstm:LSTMEncoder",
    "cnn": "tsssl.encoders.cnn:CNNEncoder",
    "transformer": "tsssl.encoders.transformer:TransformerEncoder",
    "dilated": "tsssl.encoders.dilated:DilatedEncoder",
}
ENCODERS = tuple(ENCODER_CLASSES)
#: per-day feature sets of the price windows (tsssl.data.windows); ``close*`` need closes alone
FEATURES = ("ohlcv", "ohlcv+padic", "close", "close+padic")
FEATURE_LABELS = {"ohlcv": "original", "ohlcv+padic": "P-adic", "close": "closes", "close+padic": "closes + P-adic"}
#: RunConfig.features' default: ``ohlcv`` when the data have open, high, low and volume, else ``close``
AUTO_FEATURES = "auto"
#: the report's grid columns by default: the original and the P-adic set of what the prices have
#: ("ohlcv" / "ohlcv+padic" with open, high, low and volume, else "close" / "close+padic")
GRID_AUTO_FEATURES = (AUTO_FEATURES, AUTO_FEATURES + "+padic")
REBALANCE = ("v1", "v2", "v3", "none")
PRECISIONS = ("fp32", "bf16", "fp16")
#: torch.compile modes of the Trainer ("eager": the dynamo trace alone, without code generation)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "eager")
SOURCES = ("sample", "tickers", "file")
#: the bundled price samples (tsssl.data.load_sample); "indices" is the default
SAMPLES = ("indices", "stocks20")
PROBES = ("logreg", "mlp")
#: how the decision threshold is chosen on the validation slice (tsssl.evaluate.choose_threshold)
THRESHOLD_RULES = ("f1", "precision_at_recall", "top_frac", "fixed")
#: the pair losses SiamCL accepts (``loss=``; tsssl.methods.siamcl forms the pairs of each)
SIAMCL_LOSSES = (
    "nt_xent",
    "info_nce",
    "supcon",
    "pair_margin",
    "contrastive_pair",
    "triplet_margin",
    "n_pair",
    "lifted_structured",
    "soft_nearest_neighbors",
)
#: how ``tsssl report`` splits the data (docs/design.md, "Split"): "auto" is walk-forward on a
#: multi-ticker panel of many years (``tsssl.config.walk_forward_by_default``), else one split
REPORT_SPLITS = ("auto", "single", "walk-forward")


@dataclass(frozen=True)
class Use:
    """How a method runs on one modality: the loss it trains with (for reports), its default
    training settings (Trainer keys: epochs, max_steps, batch_size, lr, weight_decay) and
    ``max_batch``, a cap on the batch that ``TSSSLEncoder``'s budget rule chooses for it
    (``tsssl.budget``; None: the rule's own bounds)."""

    loss: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    max_batch: int | None = None


@dataclass(frozen=True)
class MethodSpec:
    """One method: ``name`` on the command line and in config files, ``target`` its class as
    ``"module:Class"``, ``label`` in reports, ``uses`` modality -> :class:`Use`."""

    name: str
    target: str
    label: str
    uses: Mapping[str, Use]
    #: the window encoder it runs with when none is named (``encoder="auto"``)
    encoder: str = "lstm"

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.uses)

    def method_class(self) -> type:
        """The method's class (imports its module, and torch, on first use)."""
        return _load(self.target)


# Image methods train 300 steps at batch 256 on the 8 x 8 digits unless their entry says otherwise.
_IMAGE = {"max_steps": 300, "batch_size": 256, "lr": 3e-3, "weight_decay": 1e-4}
# Window methods take the run's settings (tsssl.config.RunConfig's defaults) as they are.
_WINDOWS: Mapping[str, Any] = {}


def _spec(name: str, target: str, label: str, encoder: str = "lstm", **uses: Use) -> MethodSpec:
    return MethodSpec(name, f"tsssl.methods.{target}", label, uses, encoder)


METHODS: dict[str, MethodSpec] = {
    s.name: s
    for s in (
        _spec(
            "siamcl",
            "siamcl:SiamCL",
            "SiamCL",
            timeseries=Use("nt_xent (or any pair loss of the library: loss=...)", _WINDOWS),
        ),
        _spec(
            "cpc",
            "cpc:CPC",
            "CPC",
            timeseries=Use("info_nce (future steps)", _WINDOWS),
            image=Use("info_nce (future pixel rows)", _IMAGE),
        ),
        _spec("simclr", "simclr:SimCLR", "SimCLR", timeseries=Use("nt_xent", _WINDOWS), image=Use("nt_xent", _IMAGE)),
        _spec(
            "moco",
            "moco:MoCo",
            "MoCo",
            timeseries=Use("info_nce (queue of momentum keys)", _WINDOWS),
            image=Use("info_nce (queue of momentum keys)", _IMAGE),
        ),
        _spec(
            "byol",
            "byol:BYOL",
            "BYOL",
            timeseries=Use("negative_cosine (EMA target)", _WINDOWS),
            image=Use("negative_cosine (EMA target)", _IMAGE),
        ),
        _spec(
            "simsiam",
            "simsiam:SimSiam",
            "SimSiam",
            timeseries=Use("negative_cosine (stop-gradient)", _WINDOWS),
            image=Use("negative_cosine (stop-gradient)", _IMAGE),
        ),
        _spec(
            "barlow",
            "barlow:BarlowTwins",
            "Barlow Twins",
            timeseries=Use("barlow_twins", _WINDOWS),
            image=Use("barlow_twins", _IMAGE),
        ),
        # The talk's supervised baseline is called "LSTM"; its encoder is --encoder's (lstm by default).
        _spec(
            "lstm",
            "supervised:SupervisedBaseline",
            "LSTM",
            timeseries=Use("cross-entropy (class-weighted)", _WINDOWS),
        ),
        _spec(
            "deepcluster",
            "deepcluster:DeepCluster",
            "DeepCluster",
            timeseries=Use("cross-entropy on k-means pseudo-labels (memory of recent windows)", _WINDOWS),
        ),
        _spec(
            "swav",
            "swav:SwAV",
            "SwAV",
            timeseries=Use("swapped prediction of Sinkhorn codes (prototypes)", _WINDOWS),
        ),
        _spec(
            "order",
            "order:OrderVerification",
            "Order verification",
            timeseries=Use("binary cross-entropy (segments in order vs shuffled)", _WINDOWS),
        ),
        _spec(
            "arrow",
            "arrow:ArrowOfTime",
            "Arrow of time",
            timeseries=Use("binary cross-entropy (forward vs reversed)", _WINDOWS),
        ),
        _spec("tcn", "tcn:TCN", "TCN", timeseries=Use("nt_xent (time-shifted sub-windows)", _WINDOWS)),
        _spec(
            "autoregressive",
            "autoregressive:Autoregressive",
            "Autoregressive",
            timeseries=Use("MSE of the next day's standardised features", _WINDOWS),
        ),
        _spec("nnclr", "nnclr:NNCLR", "NNCLR", timeseries=Use("info_nce with nearest-neighbour positives", _WINDOWS)),
        _spec(
            "instdisc",
            "instdisc:InstDisc",
            "InstDisc (memory bank)",
            timeseries=Use("nce over a memory bank (non-parametric softmax)", _WINDOWS),
        ),
        _spec(
            "masked",
            "masked:MaskedReconstruction",
            "Masked reconstruction",
            timeseries=Use("MSE on masked spans of the standardised window", _WINDOWS),
        ),
        _spec(
            "tloss",
            "tloss:TLoss",
            "T-Loss",
            encoder="dilated",  # the paper's dilated CNN with max pooling (causal there)
            # the paper's learning rate (default_hyperparameters.json of its official code)
            timeseries=Use("triplet_logistic (sub-series in their reference vs other series)", {"lr": 1e-3}),
        ),
        _spec(
            "tstcc",
            "tstcc:TSTCC",
            "TS-TCC",
            encoder="cnn",  # the paper's three convolution blocks
            # the paper's learning rate (the config files of its official code)
            timeseries=Use("stepwise_info_nce (cross-view prediction) + nt_xent (contexts)", {"lr": 3e-4}),
        ),
        _spec(
            "tnc",
            "tnc:TNC",
            "TNC",
            encoder="dilated",  # trains on windows shorter than the series; its max pooling takes any length
            # the learning rate of the other time-neighbourhood methods here (not tuned for TNC)
            timeseries=Use("tnc_loss (neighbours vs unlabelled far windows, a discriminator)", {"lr": 1e-3}),
        ),
        _spec(
            "hierarchical",
            "hierarchical:Hierarchical",
            "Hierarchical (TS2Vec-style)",
            encoder="dilated",  # per-step outputs and timestamp masking
            # TS2Vec's learning rate, and its batch on every set (train.py's --batch-size 8): each
            # series gives a positive pair per time step, so a few series fill a step
            timeseries=Use(
                "hierarchical_contrastive (instance + temporal, overlapping crops)", {"lr": 1e-3}, max_batch=8
            ),
        ),
        # -- window methods of the self-supervised families: one entry each, above this line --
        _spec("rotnet", "rotnet:RotNet", "RotNet", image=Use("cross-entropy over 4 rotations", _IMAGE)),
        _spec(
            "jigsaw",
            "jigsaw:Jigsaw",
            "Jigsaw",
            image=Use("cross-entropy over the permutation set", {**_IMAGE, "max_steps": 600}),
        ),
        _spec(
            "colorization",
            "colorization:Colorization",
            "Colorization",
            image=Use("rebalanced cross-entropy over quantised ab bins (L -> ab)", _IMAGE),
        ),
        _spec(
            "splitbrain",
            "splitbrain:SplitBrain",
            "Split-brain auto-encoder",
            image=Use("cross-entropy L -> ab bins + ab -> L bins", _IMAGE),
        ),
        _spec(
            "inpainting",
            "inpainting:ContextEncoder",
            "Context encoder (inpainting)",
            image=Use("L2 on the masked region (random blocks)", _IMAGE),
        ),
        _spec(
            "relpos",
            "relpos:RelativePosition",
            "Relative patch position",
            image=Use("cross-entropy over 8 neighbour positions", _IMAGE),
        ),
        _spec(
            "dae", "dae:DenoisingAutoencoder", "Denoising AE", image=Use("cross-entropy of the clean pixels", _IMAGE)
        ),
        # 300 steps: the posterior mean's k-NN probe behind the random encoder's; 600: ahead
        _spec(
            "vae", "vae:VAE", "VAE", image=Use("negative ELBO (Bernoulli pixels + KL)", {**_IMAGE, "max_steps": 600})
        ),
        _spec(
            "clip",
            "clip:CLIP",
            "CLIP",
            image=Use("symmetric info_nce (image <-> caption)", {**_IMAGE, "max_steps": 200}),
            text=Use(
                "symmetric info_nce (window <-> description)",
                {"max_steps": 300, "batch_size": 256, "lr": 3e-3, "weight_decay": 1e-4},
            ),
        ),
        _spec(
            "word2vec",
            "word2vec:Word2Vec",
            "word2vec",
            text=Use(
                "nce (negative sampling)", {"max_steps": 400, "batch_size": 1024, "lr": 1e-2, "weight_decay": 0.0}
            ),
        ),
        _spec(
            "mlm",
            "mlm:MaskedLM",
            "masked LM",
            text=Use(
                "cross-entropy on masked tokens",
                {"max_steps": 600, "batch_size": 128, "lr": 3e-3, "weight_decay": 1e-2},
            ),
        ),
        _spec(
            "electra",
            "electra:Electra",
            "ELECTRA",
            text=Use(
                "generator MLM + 50 x replaced-token BCE",
                {"max_steps": 600, "batch_size": 128, "lr": 3e-3, "weight_decay": 1e-2},
            ),
        ),
        _spec(
            "simcse",
            "simcse:SimCSE",
            "SimCSE",
            text=Use(
                "info_nce (in-batch negatives)", {"max_steps": 300, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-2}
            ),
        ),
    )
}


def names(modality: str | None = None) -> tuple[str, ...]:
    """Method names, in the table's order; only those running on ``modality`` when given."""
    if modality is not None and modality not in MODALITIES:
        raise ValueError(f"modality {modality!r} is not one of {', '.join(MODALITIES)}")
    return tuple(n for n, s in METHODS.items() if modality is None or modality in s.uses)


def get(name: str, modality: str | None = None) -> MethodSpec:
    """The spec of ``name``; ValueError listing the accepted names (of ``modality`` when given)."""
    accepted = names(modality)
    if name not in accepted:
        raise ValueError(f"unknown method {name!r}; accepted: {', '.join(accepted)}")
    return METHODS[name]


def use(name: str, modality: str) -> Use:
    """How ``name`` runs on ``modality`` (its loss and default settings)."""
    return get(name, modality).uses[modality]


def _load(target: str) -> type:
    module, _, cls = target.partition(":")
    return getattr(import_module(module), cls)


def encoder_class(name: str) -> type:
    """The window encoder class called ``name`` (imported on first use)."""
    if name not in ENCODER_CLASSES:
        raise ValueError(f"unknown encoder {name!r}; accepted: {', '.join(map(repr, ENCODERS))}")
    return _load(ENCODER_CLASSES[name])


def method_class(name: str) -> type:
    """The class of method ``name`` (imported on first use)."""
    return get(name).method_class()


def uses_labels(name: str) -> bool:
    """Whether method ``name`` trains on labels (its class's ``uses_labels``)."""
    return bool(getattr(method_class(name), "uses_labels", False))


def default_encoder(name: str) -> str:
    """The window encoder method ``name`` runs with when none is named (``encoder="auto"``)."""
    return get(name).encoder


def label(name: str) -> str:
    """The display label of a method in reports ("SiamCL", "LSTM"); unknown names as given."""
    spec = METHODS.get(name)
    return spec.label if spec is not None else name
