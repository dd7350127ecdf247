"""What an image / text experiment hands the Trainer and the report: model, data, evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: the text tower of both CLIP experiments (captions and window descriptions are a few words
#: from a small vocabulary); ``encoder_kwargs = {text = {...}}`` overrides it
SMALL_TEXT_TOWER = {"d_model": 32, "heads": 2, "layers": 1, "dim_feedforward": 64, "dropout": 0.1}


@dataclass
class Experiment:
    """What a run needs: ``method`` (untrained), ``data`` (for Trainer.fit), ``evaluate``
    (trained method, its initial copy -> metrics dict), ``describe`` (the data, in words)."""

    method: Any
    data: Any
    evaluate: Callable[[Any, Any], dict[str, Any]]
    describe: str


def kw_error(what: str, err: TypeError) -> ValueError:
    """A constructor's TypeError (an unknown keyword) as the one-line error the CLI prints."""
    return ValueError(f"{what}: {err} (check method_kwargs / encoder_kwargs in the config)")


def rounded(scores: dict[str, float]) -> dict[str, float]:
    """Accuracies to 4 digits, as metrics.json shows them."""
    return {k: round(v, 4) for k, v in scores.items()}
