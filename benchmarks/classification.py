"""Every window method of tsssl on the public UCR / UEA classification sets, under the protocol
that time-series SSL papers (TS2Vec, T-Loss, TS-TCC, TNC) report: frozen encoder + RBF SVM.

    python -m benchmarks.classification [--sets ArrowHead ...] [--methods siamcl cpc ...]
        [--seeds 0 1 2] [--encoder cnn] [--encoder-kwargs KEY=VALUE ...] [--method-kwargs KEY=VALUE ...]
        [--trainer-kwargs KEY=VALUE ...]
        [--steps 200] [--batch-size 16] [--lr 1e-3] [--device cpu] [--no-supervised] [--out DIR] [--smoke]

For each set x seed x method (default: every self-supervised window method of
``tsssl.registry``; the supervised ``lstm`` runs apart, as a reference):

1. the series of both splits are z-normalised per series and channel (``tsssl.data.znormalise``;
   ``--normalisation series``), or left as stored (``--normalisation none``: the encoder still
   standardises each channel with the training series' mean and std, which is TS2Vec's
   preprocessing of the UEA sets; on the UCR sets, stored z-normalised, both agree); the default,
   ``--normalisation auto``, is TS2Vec's: the univariate sets per series, the multivariate as stored;
2. ``TSSSLEncoder(method, encoder, encoder_kwargs, method_kwargs, max_steps=steps, epochs=None,
   batch_size=min(B, N), lr, seed)`` is fitted on the training series WITHOUT their labels:
   ``steps`` optimiser steps for every method and set (one protocol, no per-method tuning). The
   encoder's sizes are ``tsssl.config.DEFAULT_ENCODER_KWARGS`` updated by ``--encoder-kwargs``;
   an encoder that takes ``length`` (the ``dilated`` one: its depth covers that many steps)
   gets the set's series length unless given. ``--trainer-kwargs`` set the optimiser
   (``weight_decay``, ``grad_clip``, ``warmup_frac``, ``min_lr_ratio``; TSSSLEncoder's defaults
   otherwise); ``--method-kwargs`` go to every self-supervised method;
3. the frozen encoder maps train and test series to (N, D) features;
4. an RBF SVM (``gamma="scale"``) on features standardised with the training set's statistics,
   its C chosen among 10^-4, 10^-3, ..., 10^4 by stratified k-fold cross-validation on the
   training set (k = min(5, the smallest class count), folds in file order; no search when a
   class has a single series: C = 1), refitted on every training series; the figure is its
   test accuracy.

Also measured, with the same step 3-4: the **random encoder**, the untrained encoder of the
fits at that seed (the weights every method starts from; CPC's untrained context GRU on top
is in the JSON as each method's ``untrained_accuracy``), and, unless ``--no-supervised``, a
**supervised reference**: the registry's ``lstm`` method (``SupervisedBaseline``, with
``--encoder``'s encoder and an n-class head) trained ON the labels with the same steps, batch
and learning rate, scored by its own head. Fit seconds (wall time of ``fit``) and windows/s
(steps x batch / fit seconds; a window is one training series) are recorded per run, and the
fit's CPU seconds (``time.process_time``: with ``--threads 1``, the compute a fit took, less
dependent on the other jobs of a shared machine than wall time).

Defaults follow TS2Vec: its ``TS2Vec`` class trains with batch 16 for 200 iterations on sets of
at most 100,000 values (all four here; its ``train.py`` passes batch 8), learning rate 1e-3.
TS2Vec's own evaluation (``fit_svm`` of its official code), in words: an RBF SVM with
``gamma="scale"`` on the raw (unstandardised) max-pooled representations; C is searched over
10^-4 .. 10^4 and infinity with plain 5-fold cross-validation, except on sets with fewer than
50 training series or fewer than 5 per class, where it fits a hard-margin SVM (C = infinity)
without a search (ArrowHead, 36 series, is such a set). Here the features are standardised,
infinity is left out and the folds adapt to the smallest class, as the task asked.

Output: ``DIR/classification.json`` (every run; rewritten after each run, so an interrupted
benchmark keeps what it measured) and ``DIR/classification.md`` (mean over seeds per method x
set, with the random encoder, the supervised reference and TS2Vec's figures as a reference
column), and the table printed. DIR defaults to ``benchmarks/results/<date>-<device>/``;
``--smoke`` (ItalyPowerDemand, 2 methods, seed 0, 5 steps; 15-40 s on the shared 2-core box)
writes ``classification-smoke.*`` instead; ``--report JSON`` only rewrites a saved run's markdown.

Measured (2026-11-30, 2-core CPU dev box shared with other jobs, seed 0, the seven methods of
then; 11 min): mean test accuracy over the four sets 0.701 for the best method (SimCLR), 0.683
for the random encoder, 0.897 for TS2Vec. Every figure and what it says: benchmarks/RESULTS.md,
"Classification sets (UCR/UEA), frozen encoder + RBF SVM".
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tsssl import registry
from tsssl.data.ucr import CLASSIFICATION_SETS, ClassificationData, load_classification, znormalise

#: TS2Vec's test accuracy on these sets, from the project's issue: the official TS2Vec code
#: rerun on the 2-core CPU dev box (not measured by this script)
TS2VEC_REFERENCE = {"ArrowHead": 0.800, "ItalyPowerDemand": 0.962, "OSULeaf": 0.839, "JapaneseVowels": 0.986}
TS2VEC_SOURCE = "TS2Vec, official code rerun on the 2-core CPU dev box (figures of the project's issue)"
#: T-Loss's published test accuracy with K = 10 negatives (Franceschi et al., NeurIPS 2019): the
#: "Ours (10)" columns of results_ucr.csv and results_uea.csv in the paper's official repository
#: (github.com/White-Link/UnsupervisedScalableRepresentationLearningTimeSeries, commit 6f2e1e5);
#: its own protocol (causal dilated CNN of 10 blocks x 40 channels, 1,500 steps at batch 10, RBF SVM;
#: default_hyperparameters.json there), not rerun here
TLOSS_PUBLISHED = {"ArrowHead": 0.766, "ItalyPowerDemand": 0.954, "OSULeaf": 0.760, "JapaneseVowels": 0.986}
TLOSS_SOURCE = (
    "T-Loss, published (Franceschi et al. 2019, K = 10 negatives; results_ucr.csv / results_uea.csv of "
    "its official repository, commit 6f2e1e5)"
)
#: the reference columns of every accuracy table: (header, accuracy per set, source)
REFERENCES = (
    ("TS2Vec (reference)", TS2VEC_REFERENCE, TS2VEC_SOURCE),
    ("T-Loss (published)", TLOSS_PUBLISHED, TLOSS_SOURCE),
)
C_GRID = tuple(float(c) for c in 10.0 ** np.arange(-4, 5))
#: libsvm iterations allowed to one fit of TS2Vec's evaluation (``ts2vec_svm_accuracy``)
HARD_MARGIN_MAX_ITER = 1_000_000
SMOKE = {"sets": ["ItalyPowerDemand"], "n_methods": 2, "seeds": [0], "steps": 5}
DEFAULTS = {"seeds": [0, 1, 2], "steps": 200}
#: --normalisation: what is done to the series before anything sees them
NORMALISATIONS = {
    "auto": "TS2Vec's: the univariate UCR sets z-normalised per series (as the archive ships them), the "
    "multivariate UEA set as stored (per channel with the training series' mean / std inside the encoder)",
    "series": "znormalise: per series and channel over time",
    "none": "as stored; per channel with the training series' mean / std inside the encoder only",
}
ROOT = Path(__file__).resolve().parents[1]
#: --trainer-kwargs: the optimiser settings that TSSSLEncoder passes to the Trainer
TRAINER_SETTINGS = ("weight_decay", "grad_clip", "warmup_frac", "min_lr_ratio")


def self_supervised_methods() -> list[str]:
    """The window methods of the registry that train without labels, in the registry's order."""
    return [n for n in registry.names("timeseries") if not registry.uses_labels(n)]


def supervised_methods() -> list[str]:
    """The window methods of the registry that train on labels (the reference: ``lstm``)."""
    return [n for n in registry.names("timeseries") if registry.uses_labels(n)]


# -- the evaluation: frozen features -> RBF SVM ---------------------------------------------------
def svm_accuracy(Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """Test accuracy of an RBF SVM on frozen features (N, D), C chosen on the training set.

    Features standardised with the training set's mean / std; C in ``C_GRID`` by stratified
    k-fold CV (k = min(5, smallest class count), unshuffled), refitted on all of the training
    set. Returns accuracy, best_C and cv_folds (0: no search, C = 1).
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = make_pipeline(StandardScaler(), SVC(kernel="rbf", gamma="scale", C=1.0))
    folds = min(5, int(np.unique(y_train, return_counts=True)[1].min()))
    if folds >= 2:
        search = GridSearchCV(model, {"svc__C": list(C_GRID)}, cv=StratifiedKFold(folds), n_jobs=1)
        model = search.fit(Z_train, y_train).best_estimator_
    else:  # a class with one series: no fold can hold it out
        model.fit(Z_train, y_train)
        folds = 0
    accuracy = float(np.mean(model.predict(Z_test) == y_test))
    return {"accuracy": accuracy, "best_C": float(model[-1].C), "cv_folds": folds}


def ts2vec_svm_accuracy(
    Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray
) -> dict[str, Any]:
    """Test accuracy under TS2Vec's own evaluation (the protocol of the reference column).

    An RBF SVM (``gamma="scale"``) on the raw features; with fewer than 50 training series or
    fewer than 5 per class (integer division of the set's size by its number of classes) a
    hard-margin SVM (C = infinity) without search, else C among 10^-4 .. 10^4 and infinity by
    plain 5-fold cross-validation, refitted on every training series.

    One guard TS2Vec's code lacks: on features that no hard margin separates (collapsed ones),
    libsvm at C = infinity runs without end or returns non-finite coefficients; each fit is
    capped at ``HARD_MARGIN_MAX_ITER`` iterations, and a hard-margin fit that fails or does not
    converge is replaced by C = 10^4 (the grid's largest finite C; ``ts2vec_svm_C`` says which).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    model = SVC(kernel="rbf", gamma="scale", C=np.inf, max_iter=HARD_MARGIN_MAX_ITER)
    if len(y_train) < 50 or len(y_train) // len(np.unique(y_train)) < 5:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                model.fit(Z_train, y_train)
        except (ConvergenceWarning, ValueError):
            model = SVC(kernel="rbf", gamma="scale", C=C_GRID[-1]).fit(Z_train, y_train)
    else:
        with warnings.catch_warnings():  # a non-converged candidate is scored as it is
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FitFailedWarning)  # a failed candidate (non-finite) scores NaN
            warnings.simplefilter("ignore", UserWarning)  # ... and the search says so again
            grid = GridSearchCV(model, {"C": [*C_GRID, np.inf]}, cv=5, n_jobs=1)
            model = grid.fit(Z_train, y_train).best_estimator_
    return {"accuracy_ts2vec_svm": float(np.mean(model.predict(Z_test) == y_test)), "ts2vec_svm_C": float(model.C)}


def evaluate_features(
    Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray
) -> dict[str, Any]:
    """Both evaluations of frozen features (N, D): ``svm_accuracy``'s keys and ``ts2vec_svm_accuracy``'s."""
    return {**svm_accuracy(Z_train, y_train, Z_test, y_test), **ts2vec_svm_accuracy(Z_train, y_train, Z_test, y_test)}


# -- one run of each kind -------------------------------------------------------------------------
def _start(kind: str, method: str, name: str, seed: int) -> dict[str, Any]:
    return {"set": name, "method": method, "kind": kind, "seed": seed, "error": None}


def run_self_supervised(
    method: str, name: str, d: ClassificationData, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Fit ``method`` without labels, freeze, SVM on its features; also its untrained start."""
    from tsssl import TSSSLEncoder
    from tsssl.evaluate import embed

    row = _start("self-supervised", method, name, seed)
    if args.defaults:  # TSSSLEncoder's own defaults: its encoder, lr and the budget it picks from the data
        est = TSSSLEncoder(method=method, seed=seed, device=args.device, progress=False)
    else:  # epochs=None: the run is max_steps long on every set
        est = TSSSLEncoder(
            method=method,
            encoder=args.encoder,
            encoder_kwargs=encoder_kwargs(args, d.X_train.shape[1]),
            method_kwargs=dict(args.method_kwargs),
            epochs=None,
            max_steps=args.steps,
            batch_size=min(args.batch_size, len(d.X_train)),
            lr=args.lr,
            seed=seed,
            device=args.device,
            progress=False,
            **args.trainer_kwargs,
        )
    t0, cpu0 = time.perf_counter(), time.process_time()
    est.fit(d.X_train)  # no y: the labels stay out of training
    fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    batch = est.budget_["batch_size"]
    t0 = time.perf_counter()
    Z_train, Z_test = est.transform(d.X_train), est.transform(d.X_test)
    row.update(evaluate_features(Z_train, d.y_train, Z_test, d.y_test), transform_seconds=time.perf_counter() - t0)
    row.update(
        fit_seconds=fit_s,
        fit_cpu_seconds=fit_cpu_s,  # this process's CPU time: less dependent on other jobs' load
        steps=est.n_steps_,
        batch_size=batch,
        windows_per_s=est.n_steps_ * batch / fit_s,
        final_loss=float(est.loss_curve_[1][-1]),
        out_dim=est.out_dim_,
    )
    # the same method before training, built as fit builds it (same seed, same statistics)
    if args.defaults:
        import torch

        torch.manual_seed(seed)  # fit seeds torch just before building the model
        untrained = est._build(est._recipe_).encoder.to(args.device)
    else:
        untrained = untrained_method(method, d.X_train, seed, args, **args.method_kwargs).encoder.to(args.device)
    Zu_train, Zu_test = embed(untrained, d.X_train), embed(untrained, d.X_test)
    start = evaluate_features(Zu_train, d.y_train, Zu_test, d.y_test)
    row["untrained_accuracy"] = start["accuracy"]
    row["untrained_accuracy_ts2vec_svm"] = start["accuracy_ts2vec_svm"]
    return row


def encoder_kwargs(args: argparse.Namespace, length: int) -> dict[str, Any]:
    """``--encoder``'s sizes: its default ones (``DEFAULT_ENCODER_KWARGS``) updated by
    ``--encoder-kwargs``; ``length`` (the series' length) for an encoder that takes it."""
    import inspect

    from tsssl.config import DEFAULT_ENCODER_KWARGS

    kwargs = {**DEFAULT_ENCODER_KWARGS.get(args.encoder, {}), **args.encoder_kwargs}
    if args.encoder == "auto":  # --defaults: each method's own encoder, built by TSSSLEncoder
        return kwargs
    if "length" in inspect.signature(registry.encoder_class(args.encoder)).parameters:
        kwargs.setdefault("length", int(length))
    return kwargs


def untrained_method(method: str, X_train: np.ndarray, seed: int, args: argparse.Namespace, **method_kwargs: Any):
    """``method`` as ``TSSSLEncoder.fit`` (or the pipeline, for a supervised one) builds it before
    training at ``seed``: ``--encoder`` with ``encoder_kwargs(args, T)``, inputs standardised per
    channel with the training series' statistics, the default views for a self-supervised method."""
    import torch

    from tsssl.methods import channel_stats
    from tsssl.pipeline import make_window_method

    torch.manual_seed(seed)  # fit seeds torch just before building the model
    return make_window_method(
        method,
        X_train.shape[2],
        encoder=args.encoder,
        encoder_kwargs=encoder_kwargs(args, X_train.shape[1]),
        method_kwargs=method_kwargs,
        standardize=channel_stats(X_train),
    )


def run_random_encoder(
    method: str, name: str, d: ClassificationData, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The untrained ``--encoder`` (standardised per channel as in fit; the weights that every
    method but CPC, which adds a context GRU, starts from at ``seed``), frozen features -> SVM.
    ``method``: unused (the row's method is "random")."""
    import torch

    from tsssl.encoders import build_encoder
    from tsssl.evaluate import embed
    from tsssl.methods import StandardizedEncoder, channel_stats

    row = _start("random encoder", "random", name, seed)
    torch.manual_seed(seed)  # as fit seeds before building: the encoder is built first, so same weights
    kwargs = encoder_kwargs(args, d.X_train.shape[1])
    encoder = StandardizedEncoder(build_encoder(args.encoder, d.X_train.shape[2], **kwargs), *channel_stats(d.X_train))
    encoder.to(args.device)
    row.update(evaluate_features(embed(encoder, d.X_train), d.y_train, embed(encoder, d.X_test), d.y_test))
    return row


def run_supervised(
    method: str, name: str, d: ClassificationData, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    """``method`` (the registry's supervised ``lstm``) trained on the labels with the same steps,
    batch and learning rate, ``--encoder``'s encoder and an n-class head; its head's test accuracy."""
    import torch

    from tsssl.pipeline import make_trainer

    row = _start("supervised", method, name, seed)
    n, batch = len(d.X_train), min(args.batch_size, len(d.X_train))
    model = untrained_method(method, d.X_train, seed, args, n_classes=int(d.y_train.max()) + 1)
    settings = {"max_steps": args.steps, "batch_size": batch, "lr": args.lr, "seed": seed, "device": args.device}
    t0 = time.perf_counter()
    result = make_trainer(settings, n_samples=n, progress=False).fit(
        model, (torch.from_numpy(d.X_train), torch.from_numpy(d.y_train))
    )
    fit_s = time.perf_counter() - t0
    model.eval()
    accuracy = float(np.mean(model.predict_proba(d.X_test).argmax(axis=1) == d.y_test))
    row.update(
        accuracy=accuracy,
        fit_seconds=fit_s,
        steps=int(result.steps),
        batch_size=batch,
        windows_per_s=result.steps * batch / fit_s,
        final_loss=float(result.final_loss),
    )
    return row


RUNS = {"self-supervised": run_self_supervised, "random encoder": run_random_encoder, "supervised": run_supervised}


def guarded(
    kind: str, method: str, name: str, d: ClassificationData, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One run of ``kind`` (a key of ``RUNS``); a failing run becomes a row with its error, so
    that the others still run."""
    try:
        return RUNS[kind](method, name, d, seed, args)
    except Exception as err:  # noqa: BLE001 -- recorded in the row and printed, not hidden
        print(f"  FAILED {method} on {name}, seed {seed}: {type(err).__name__}: {err}", file=sys.stderr)
        row = _start(kind, "random" if kind == "random encoder" else method, name, seed)
        return {**row, "error": f"{type(err).__name__}: {err}"}


# -- tables -------------------------------------------------------------------------------------
def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get("error") is None and r.get(key) is not None]
    return float(np.mean(values)) if values else None


def _cell(rows: list[dict[str, Any]], key: str = "accuracy", digits: int = 3) -> str:
    """Mean over seeds ("0.812"), "± std" with more than one seed, "failed" when every run failed."""
    if rows and all(r.get("error") for r in rows):
        return "failed"
    ok = [r[key] for r in rows if r.get("error") is None and r.get(key) is not None]
    if not ok:
        return "-"  # not measured for this kind of run
    text = f"{np.mean(ok):.{digits}f}"
    return text + (f" ± {np.std(ok):.{digits}f}" if len(ok) > 1 else "")


def _select(rows: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def accuracy_table(
    rows: list[dict[str, Any]], sets: Sequence[str], methods: Sequence[str], key: str = "accuracy"
) -> list[str]:
    """Markdown lines: one row per set (and their mean), one column per method, with the random
    encoder first, the supervised reference and TS2Vec's figures last; ``key``: the rows'
    accuracy to show ("accuracy": this benchmark's SVM, "accuracy_ts2vec_svm": TS2Vec's; the
    supervised reference, scored by its own head, has only the first)."""
    sup = sorted({r["method"] for r in rows if r["kind"] == "supervised"}) if key == "accuracy" else []
    columns = [("random encoder", "random encoder", None)]
    columns += [(registry.label(m), "self-supervised", m) for m in methods]
    columns += [(f"supervised `{m}` (trained on the labels; reference)", "supervised", m) for m in sup]
    head = ["set", *(c[0] for c in columns), *(r[0] for r in REFERENCES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for name in sets:
        cells = [_cell(_select(rows, set=name, kind=k, **({"method": m} if m else {})), key) for _, k, m in columns]
        cells += [f"{ref[name]:.3f}" if name in ref else "-" for _, ref, _ in REFERENCES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = []
    for _, k, m in columns:  # mean over sets of the per-set means; only where every set has a figure
        per_set = [_mean(_select(rows, set=n, kind=k, **({"method": m} if m else {})), key) for n in sets]
        means.append("-" if None in per_set else f"{np.mean(per_set):.3f}")
    means += [
        f"{np.mean([ref[n] for n in sets]):.3f}" if all(n in ref for n in sets) else "-" for _, ref, _ in REFERENCES
    ]
    lines.append("| **mean over sets** | " + " | ".join(means) + " |")
    return lines


def detail_table(rows: list[dict[str, Any]], sets: Sequence[str], methods: Sequence[str]) -> list[str]:
    """Markdown lines: per method x set, accuracy against its own untrained start, C, time."""
    lines = [
        "| method | set | accuracy | untrained (same weights) | gain | best C (median) | TS2Vec's evaluation "
        "(untrained) | fit s | fit CPU s | windows/s |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    sup = sorted({r["method"] for r in rows if r["kind"] == "supervised"})
    for kind, names in (("self-supervised", methods), ("supervised", sup)):
        for m in names:
            for name in sets:
                sel = _select(rows, set=name, kind=kind, method=m)
                if not sel:
                    continue
                acc, base = _mean(sel, "accuracy"), _mean(sel, "untrained_accuracy")
                gain = f"{acc - base:+.3f}" if acc is not None and base is not None else "-"
                cs = [r["best_C"] for r in sel if r.get("best_C") is not None]
                c = f"{np.median(cs):g}" if cs else "-"
                label = registry.label(m) if kind == "self-supervised" else f"supervised `{m}` (labels)"
                lines.append(
                    f"| {label} | {name} | {_cell(sel)} | {_cell(sel, 'untrained_accuracy')} | {gain} | {c} "
                    f"| {_cell(sel, 'accuracy_ts2vec_svm')} ({_cell(sel, 'untrained_accuracy_ts2vec_svm')}) "
                    f"| {_cell(sel, 'fit_seconds', 1)} | {_cell(sel, 'fit_cpu_seconds', 1)} | {_cell(sel, 'windows_per_s', 0)} |"
                )
    return lines


def _budget_line(s: dict[str, Any]) -> str:
    if s.get("defaults"):
        lr = "each method's own" if s["lr"] is None else s["lr"]
        encoder = "each method's own" if s["encoder"] == "auto" else f"`{s['encoder']}`"
        head = f"`TSSSLEncoder(method, seed)` at its defaults: encoder {encoder}, lr {lr}, the budget "
        head += "it chooses from the data (each run's steps and batch in the JSON)"
    else:
        head = f"Encoder `{s['encoder']}` {s['encoder_kwargs']}, {s['steps']} steps, batch min({s['batch_size']}, N), "
        head += f"lr {s['lr']}"
        if s.get("method_kwargs"):
            head += f", method settings {s['method_kwargs']}"
        if s.get("trainer_kwargs"):
            head += f", optimiser {s['trainer_kwargs']}"
    return head + f", seeds {s['seeds']}. Test accuracy, mean over seeds (± std over seeds when more than one)."


def markdown(doc: dict[str, Any]) -> str:
    """The report: settings, the accuracy table (mean over seeds) and the per-run details."""
    s, rows = doc["settings"], doc["results"]
    m = doc["machine"]
    failed = [r for r in rows if r.get("error")]
    text = [
        "# Classification sets (UCR/UEA), frozen encoder + RBF SVM",
        "",
        f"`{s['command']}`",
        "",
        f"{m['date']}, {m['cpu']} ({m['cpu_count']} CPUs, {m['torch_threads']} torch threads), torch {m['torch']}, "
        f"device {s['device']}; load average {m['load_average_start']} at the start, {doc.get('load_average_end')} at the end.",
        _budget_line(s),
        "",
        "This benchmark's SVM (standardised features, C by stratified k-fold search):",
        "",
        *accuracy_table(rows, s["sets"], s["methods"]),
        "",
        *(f"{head}: {source}; not measured by this benchmark." for head, _, source in REFERENCES),
        "",
    ]
    if any("accuracy_ts2vec_svm" in r for r in rows):
        text += [
            "TS2Vec's own evaluation (raw features; hard-margin SVM below 50 series or 5 per class, else C "
            "among 10^-4 .. 10^4 and infinity by 5-fold search): the protocol of the reference column.",
            "",
            *accuracy_table(rows, s["sets"], s["methods"], key="accuracy_ts2vec_svm"),
            "",
        ]
    text += [
        *detail_table(rows, s["sets"], s["methods"]),
        "",
    ]
    if failed:
        text += [
            "Failed runs:",
            "",
            *(f"- {r['method']} on {r['set']}, seed {r['seed']}: {r['error']}" for r in failed),
            "",
        ]
    return "\n".join(text)


# -- command line ---------------------------------------------------------------------------------
def _key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value): the value read as a TOML value (3, 0.5, true), ``none`` as
    None (e.g. temporal_anchors=none: every step), else a string."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. hidden=64)")
    if raw.strip().lower() == "none":
        return key.strip(), None
    try:
        return key.strip(), tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return key.strip(), raw


def _positive(minimum: int):
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return check


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags; ``--smoke`` fills the ones not given with its small settings."""
    from tsssl.registry import ENCODERS

    ssl = self_supervised_methods()
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.classification",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--sets", nargs="+", choices=CLASSIFICATION_SETS, help="default: all four")
    ap.add_argument("--methods", nargs="+", choices=ssl, help=f"self-supervised methods (default: {' '.join(ssl)})")
    ap.add_argument("--seeds", nargs="+", type=_positive(0), help="default: 0 1 2")
    ap.add_argument("--encoder", choices=ENCODERS, default="cnn")
    ap.add_argument(
        "--encoder-kwargs",
        nargs="+",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="the encoder's sizes over its defaults, e.g. hidden=64 out_dim=320 depth=10",
    )
    ap.add_argument(
        "--method-kwargs",
        nargs="+",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="arguments of every self-supervised method, e.g. mask_rate=0.5",
    )
    ap.add_argument(
        "--trainer-kwargs",
        nargs="+",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help=f"the optimiser's settings in every fit ({', '.join(TRAINER_SETTINGS)}: TSSSLEncoder's), e.g. "
        "grad_clip=none warmup_frac=0 min_lr_ratio=1 weight_decay=0.01 (TS2Vec's: a constant rate, no clipping)",
    )
    ap.add_argument("--steps", type=_positive(1), help="optimiser steps per fit (default 200)")
    ap.add_argument("--batch-size", type=_positive(2), default=16, help="capped at the training set's size")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument(
        "--normalisation",
        choices=NORMALISATIONS,
        default="auto",
        help="auto (default, TS2Vec's preprocessing): univariate sets z-normalised per series, multivariate "
        "ones as stored; series: z-normalise each series and channel; none: as stored (the encoder "
        "standardises each channel with the training series' statistics)",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=_positive(1), help="torch CPU threads (default: torch's)")
    ap.add_argument(
        "--supervised", action=argparse.BooleanOptionalAction, default=True, help="the supervised reference (lstm)"
    )
    ap.add_argument("--out", type=Path, help="output folder (default benchmarks/results/<date>-<device>)")
    ap.add_argument(
        "--defaults",
        action="store_true",
        help="fit TSSSLEncoder(method, seed) with every other setting at its default (encoder, lr, the "
        "budget it chooses from the data); --encoder/--steps/--batch-size/--lr are then not accepted",
    )
    ap.add_argument("--smoke", action="store_true", help="ItalyPowerDemand, 2 methods, seed 0, 5 steps")
    ap.add_argument("--report", type=Path, metavar="JSON", help="only rewrite the markdown of a saved JSON")
    args = ap.parse_args(argv)
    if args.defaults:
        given = [
            f
            for f in (
                "--encoder",
                "--encoder-kwargs",
                "--method-kwargs",
                "--trainer-kwargs",
                "--steps",
                "--batch-size",
                "--lr",
            )
            if any(a == f or a.startswith(f + "=") for a in argv or ())
        ]
        if given:
            ap.error(f"--defaults fits TSSSLEncoder's own settings; drop {', '.join(given)}")
        from tsssl.sklearn import TSSSLEncoder

        args.encoder, args.lr = TSSSLEncoder().encoder, TSSSLEncoder().lr
    preset = SMOKE if args.smoke else DEFAULTS
    args.sets = args.sets or preset.get("sets", list(CLASSIFICATION_SETS))
    args.methods = args.methods or ssl[: preset.get("n_methods", len(ssl))]
    args.seeds = args.seeds if args.seeds is not None else preset["seeds"]
    args.steps = args.steps or preset["steps"]
    args.encoder_kwargs, args.method_kwargs = dict(args.encoder_kwargs), dict(args.method_kwargs)
    args.trainer_kwargs = dict(args.trainer_kwargs)
    unknown = sorted(set(args.trainer_kwargs) - set(TRAINER_SETTINGS))
    if unknown:
        ap.error(f"--trainer-kwargs: unknown {', '.join(unknown)}; accepted: {', '.join(TRAINER_SETTINGS)}")
    if args.out is None:
        args.out = ROOT / "benchmarks" / "results" / f"{_dt.date.today().isoformat()}-{args.device.split(':')[0]}"
    return args


def _settings(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    from tsssl.config import DEFAULT_ENCODER_KWARGS
    from tsssl.sklearn import TSSSLEncoder

    encoder_defaults = TSSSLEncoder().get_params()
    per_set = "length" in encoder_kwargs(args, 0) and "length" not in args.encoder_kwargs
    length = {"length": "the series' length of each set"} if per_set else {}
    return {
        "command": " ".join(["python -m benchmarks.classification", *argv]),
        "sets": list(args.sets),
        "methods": list(args.methods),
        "supervised": supervised_methods() if args.supervised else [],
        "seeds": list(args.seeds),
        "encoder": args.encoder,
        "encoder_kwargs": {**DEFAULT_ENCODER_KWARGS.get(args.encoder, {}), **args.encoder_kwargs, **length},
        "method_kwargs": args.method_kwargs,
        "trainer_kwargs": {**{k: encoder_defaults[k] for k in TRAINER_SETTINGS}, **args.trainer_kwargs},
        "defaults": bool(args.defaults),
        "steps": "chosen by TSSSLEncoder from the data (tsssl.budget)" if args.defaults else args.steps,
        "batch_size": "chosen by TSSSLEncoder from the data (tsssl.budget)" if args.defaults else args.batch_size,
        "lr": args.lr,
        "device": args.device,
        "normalisation": NORMALISATIONS[args.normalisation],
        "svm": {"kernel": "rbf", "gamma": "scale", "standardised_features": True, "C_grid": list(C_GRID)},
        "svm_folds": "stratified, min(5, smallest class count), unshuffled; C = 1 without search below 2",
        "ts2vec_svm": "accuracy_ts2vec_svm: raw features, RBF gamma scale, C = inf below 50 series or 5 per class, "
        "else C in C_grid + [inf] by plain 5-fold CV (TS2Vec's fit_svm)",
        "ts2vec_reference": {"accuracy": TS2VEC_REFERENCE, "source": TS2VEC_SOURCE},
        "tloss_published": {"accuracy": TLOSS_PUBLISHED, "source": TLOSS_SOURCE},
    }


def _load(name: str, normalisation: str = "series") -> tuple[ClassificationData, dict[str, int]]:
    raw = load_classification(name)
    if normalisation == "auto":
        normalisation = "series" if raw.X_train.shape[2] == 1 else "none"
    d = (
        raw
        if normalisation == "none"
        else ClassificationData(znormalise(raw.X_train), raw.y_train, znormalise(raw.X_test), raw.y_test)
    )
    n, T, C = d.X_train.shape
    return d, {"train": n, "test": len(d.X_test), "length": T, "channels": C, "classes": int(d.y_train.max()) + 1}


def main(argv: Sequence[str] | None = None) -> int:
    """Run every set x seed x (random encoder, methods, supervised reference); write and print."""
    from tsssl.atomic import atomic_write, write_json
    from tsssl.bench import machine_info

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.report is not None:
        return rewrite_report(args.report)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    _warm_up()
    stem = "classification-smoke" if args.smoke else "classification"
    json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}.md"
    machine = {**machine_info([args.device]), "load_average_start": _load_average()}
    doc: dict[str, Any] = {"machine": machine, "settings": _settings(args, argv), "sets": {}, "results": []}
    # --defaults: each method runs its own encoder, whose untrained start is in its rows
    kinds = [] if args.defaults else [("random encoder", "random")]
    kinds += [("self-supervised", m) for m in args.methods]
    kinds += [("supervised", m) for m in doc["settings"]["supervised"]]
    for name in args.sets:
        d, doc["sets"][name] = _load(name, args.normalisation)
        for seed in args.seeds:
            for kind, method in kinds:
                row = guarded(kind, method, name, d, seed, args)
                doc["results"].append(row)
                doc["load_average_end"] = _load_average()
                write_json(json_path, doc)  # after every run: an interrupted benchmark keeps its rows
                _progress(row)
    text = markdown(doc)
    atomic_write(md_path, lambda fh: fh.write(text))
    print(text)
    print(f"wrote {json_path} and {md_path}")
    return 0


def rewrite_report(json_path: Path) -> int:
    """The markdown of a saved JSON, written next to it (same stem, .md) and printed."""
    import json

    from tsssl.atomic import atomic_write

    text = markdown(json.loads(json_path.read_text(encoding="utf-8")))
    atomic_write(json_path.with_suffix(".md"), lambda fh: fh.write(text))
    print(text)
    return 0


def _progress(row: dict[str, Any]) -> None:
    acc = "failed" if row.get("error") else f"{row['accuracy']:.3f}"
    extra = f", {row['fit_seconds']:.1f} s fit" if row.get("fit_seconds") else ""
    print(
        f"{row['set']:<17} seed {row['seed']}  {row['method']:<8} {row['kind']:<16} accuracy {acc}{extra}", flush=True
    )


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not on every platform
        return None


def _warm_up() -> None:
    """Build one AdamW before timing: its first construction imports torch's compiler (seconds),
    which would otherwise land in the first fit's time."""
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


if __name__ == "__main__":
    sys.exit(main())
