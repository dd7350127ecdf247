"""tsssl.data: prices in, labelled windows out (docs/design.md, "Data flow").

Sources (long price frames: date, ticker, open, high, low, close, volume): ``load_sample``,
``load_prices`` (yfinance + cache), ``read_prices`` (CSV / parquet), ``synthetic_market``;
checked by ``validate_prices``. Windows: ``strict_rise_label``, ``build_windows`` ->
``WindowSet`` (P-adic features in ``tsssl.data.padic``). Splits: ``chronological_split`` ->
``Split``, ``walk_forward``. Class balance: ``rebalance``. The public UCR / UEA classification
sets the SSL papers report (bundled, offline): ``load_classification`` (``CLASSIFICATION_SETS``,
``class_labels``), ``znormalise`` (``tsssl.data.ucr``, which also reads ``.ts`` files).
"""

from tsssl.data.labels import strict_rise_label
from tsssl.data.padic import (
    padic_digits,
    padic_distance,
    padic_feature_names,
    padic_features,
    padic_to_int,
    padic_valuation,
    reference_patterns,
)
from tsssl.data.prices import validate_prices
from tsssl.data.rebalance import rebalance
from tsssl.data.sources import load_prices, load_sample, read_prices
from tsssl.data.splits import Split, chronological_split, walk_forward
from tsssl.data.synthetic import synthetic_market
from tsssl.data.ucr import CLASSIFICATION_SETS, class_labels, load_classification, znormalise
from tsssl.data.windows import build_windows
from tsssl.data.windowset import WindowSet

__all__ = [
    "load_sample",
    "load_prices",
    "read_prices",
    "synthetic_market",
    "validate_prices",
    "strict_rise_label",
    "build_windows",
    "WindowSet",
    "chronological_split",
    "Split",
    "walk_forward",
    "rebalance",
    "padic_digits",
    "padic_valuation",
    "padic_distance",
    "padic_features",
    "padic_feature_names",
    "padic_to_int",
    "reference_patterns",
    "CLASSIFICATION_SETS",
    "load_classification",
    "class_labels",
    "znormalise",
]
