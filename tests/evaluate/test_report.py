"""The precision report: its numbers against scikit-learn on the saved predictions, the bootstrap
intervals (cover the point, narrow with more data), the seed aggregation, the JSON records and
the talk-shaped Markdown table."""

import base64
import json
import re

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_score, recall_score

from tsssl import pipeline
from tsssl.atomic import json_ready
from tsssl.config import resolve_config
from tsssl.evaluate import classification_report
from tsssl.evaluate import report as rep

TINY = {"start": "2014-01-01", "max_steps": 2, "batch_size": 128, "device": "cpu", "encoder_kwargs": {"hidden": 8}}
REQUIRED = (
    "method",
    "features",
    "rebalance",
    "n_seeds",
    "precision",
    "precision_ci_low",
    "precision_ci_high",
    "recall",
    "pr_auc",
    "base_rate",
    "n_test",
    "n_test_pos",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A real 2 methods x 2 features x 3 rebalances x 2 seeds grid on the sample since 2014."""
    cfg = resolve_config(None, TINY)
    grid = pipeline.run_grid(
        cfg, methods=["lstm", "siamcl"], features=["ohlcv", "ohlcv+padic"], rebalances=["v1", "v2", "v3"], seeds=[0, 1]
    )
    report = rep.build_report(grid, n_boot=200)
    out = tmp_path_factory.mktemp("report")
    paths = rep.write_report(report, grid, out)
    return grid, report, out, paths


def test_every_output_is_written_and_json_round_trips(written):
    _, report, out, _ = written
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "report.html", "predictions.npz"}
    loaded = rep.load_report(out)
    assert loaded == json.loads(json.dumps(json_ready(report)))
    assert len(loaded["records"]) == 2 * 2 * 3
    for r in loaded["records"]:
        missing = [k for k in REQUIRED if k not in r]
        assert not missing, missing
        assert r["n_seeds"] == 2 and r["seeds"] == [0, 1] and len(r["per_seed"]) == 2
        d, seeds = r["diagnostics"], [s["diagnostics"] for s in r["per_seed"]]
        assert d["n_seeds"] == 2 and d["effective_rank"] == pytest.approx(np.mean([s["effective_rank"] for s in seeds]))
        assert d["collapsed"] == any(s["collapsed"] for s in seeds)
        assert (d["alignment"] is None) == (r["method"] == "lstm")  # the baseline has no views
    with pytest.raises(ValueError, match="no report"):
        rep.load_report(out / "missing")


def test_report_numbers_match_sklearn_on_the_saved_predictions(written):
    _, report, out, _ = written
    npz = np.load(out / "predictions.npz")
    y = npz["y_test"]
    checked = 0
    for r in report["records"]:
        prec, rec, ap = [], [], []
        for seed in r["seeds"]:
            run = rep.prediction_key(r["method"], r["features"], r["rebalance"], seed, "")
            score, t = npz[run + "test_score"], float(npz[run + "threshold"])
            pred = (score >= t).astype(int)
            if pred.sum():
                prec.append(precision_score(y, pred))
            rec.append(recall_score(y, pred))
            ap.append(average_precision_score(y, score))
        assert r["n_seeds_defined"] == len(prec)
        if prec:
            assert r["precision"] == pytest.approx(np.mean(prec), abs=1e-12)
            checked += 1
        else:
            assert r["precision"] is None
        assert r["recall"] == pytest.approx(np.mean(rec), abs=1e-12)
        assert r["pr_auc"] == pytest.approx(np.mean(ap), abs=1e-12)
        assert r["base_rate"] == pytest.approx(y.mean())
        assert r["n_test"] == y.size and r["n_test_pos"] == int(y.sum())
        assert r["thresholds"] == pytest.approx(
            [
                float(npz[rep.prediction_key(r["method"], r["features"], r["rebalance"], s, "threshold")])
                for s in r["seeds"]
            ]
        )
    assert checked >= len(report["records"]) // 2
    # the saved rows are the split's test and validation windows
    assert npz["test_end_date"].min() > npz["val_end_date"].max()
    assert str(npz["test_end_date"].min()) == report["meta"]["split"]["test_start"]


def test_intervals_cover_the_point_estimates(written):
    _, report, _, _ = written
    for r in report["records"]:
        for m in ("precision", "recall", "pr_auc"):
            if r[m] is not None:
                assert r[f"{m}_ci_low"] <= r[m] <= r[f"{m}_ci_high"], (r["label"], m)


def _market(n_dates, seed):
    """Two tickers a day, ~10% positives, a score with some skill."""
    rng = np.random.default_rng(seed)
    n = 2 * n_dates
    y = (rng.random(n) < 0.1).astype(int)
    score = 0.6 * y + rng.random(n)
    dates = np.repeat(np.arange(n_dates), 2).astype("datetime64[D]")
    return y, score, dates


def test_intervals_narrow_with_more_data():
    widths = {}
    for n_dates in (250, 4000):
        y, score, dates = _market(n_dates, seed=n_dates)
        agg = rep.aggregate_seeds(y, score[None], [0.8], dates=dates, n_boot=300)
        for m in ("precision", "recall", "pr_auc"):
            assert agg[f"{m}_ci_low"] <= agg[m] <= agg[f"{m}_ci_high"]
            widths[(n_dates, m)] = agg[f"{m}_ci_high"] - agg[f"{m}_ci_low"]
    for m in ("precision", "recall", "pr_auc"):
        # 16x the dates: about a quarter of the width; at least half narrower
        assert 0 < widths[(4000, m)] < 0.5 * widths[(250, m)], m


def test_seed_aggregation_means_defined_seeds_and_shares_the_bootstrap():
    y, score, dates = _market(300, seed=1)
    rng = np.random.default_rng(2)
    scores = np.stack([score, score + 0.3 * rng.random(y.size), score])
    thresholds = [0.8, 0.9, 99.0]  # the third seed calls nothing: precision undefined there
    agg = rep.aggregate_seeds(y, scores, thresholds, dates=dates, n_boot=200)
    precisions = [precision_score(y, scores[i] >= thresholds[i]) for i in range(2)]
    assert agg["n_seeds"] == 3 and agg["n_seeds_defined"] == 2
    assert agg["precision"] == pytest.approx(np.mean(precisions))
    assert agg["precision_seed_min"] == pytest.approx(min(precisions))
    assert agg["precision_seed_max"] == pytest.approx(max(precisions))
    assert agg["recall"] == pytest.approx(np.mean([recall_score(y, scores[i] >= thresholds[i]) for i in range(3)]))
    assert agg["pr_auc"] == pytest.approx(np.mean([average_precision_score(y, s) for s in scores]))
    # identical seeds: the seed-shared bootstrap gives exactly the one-seed interval
    same = rep.aggregate_seeds(y, np.stack([score, score]), [0.8, 0.8], dates=dates, n_boot=200, seed=5)
    one = classification_report(y, score, 0.8, dates=dates, n_boot=200, seed=5)
    for m in ("precision", "recall", "pr_auc"):
        assert same[m] == pytest.approx(one[m])
        assert same[f"{m}_ci_low"] == pytest.approx(one[f"{m}_ci_low"])
        assert same[f"{m}_ci_high"] == pytest.approx(one[f"{m}_ci_high"])
    with pytest.raises(ValueError, match="one value per seed"):
        rep.aggregate_seeds(y, scores, [0.5], dates=dates, n_boot=0)


def test_markdown_has_the_talk_shaped_table(written):
    _, report, out, _ = written
    md = (out / "report.md").read_text()
    header = "| method | original V1 | original V2 | original V3 | P-adic V1 | P-adic V2 | P-adic V3 |"
    assert md.count(header) >= 5  # precision, recall, PR-AUC, base rate / lift, ... all in that shape
    first = md.index(header)
    assert md.index("## Precision") < first < md.index("## Recall")
    rows = md[first:].split("\n")[2:4]
    assert rows[0].startswith("| LSTM |") and rows[1].startswith("| SiamCL |")
    # each precision cell is the record's value with its interval, in the columns' order
    records = {(r["method"], r["features"], r["rebalance"]): r for r in report["records"]}
    cols = [(f, r) for f in ("ohlcv", "ohlcv+padic") for r in ("v1", "v2", "v3")]
    for row, method in zip(rows, ("lstm", "siamcl")):
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        for text, col in zip(cells, cols):
            r = records[(method, *col)]
            kind = r["ci_kind"]["precision"]
            if r["precision"] is None:
                assert text == "– (no calls)" and kind == "undefined"
            else:
                assert text == (
                    f"{100 * r['precision']:.1f}% [{100 * r['precision_ci_low']:.1f}–"
                    f"{100 * r['precision_ci_high']:.1f}]" + (rep.EXACT_MARK if kind == "exact" else "")
                )
    # what makes the precision meaningful, and the setup, are on the page
    for needle in (
        "base rate",
        "Base rate and lift",
        "PR-AUC",
        "A DIFFERENT READING",
        "## Representation diagnostics (final step)",
        "Purge 5 trading days",
        "Seeds: 0, 1",
        "tsssl 0.1",
        "^GSPC",
        report["meta"]["split"]["test_start"],
        report["meta"]["split"]["val_start"],
    ):
        assert needle in md, needle


def test_paired_comparisons_to_lstm_are_in_every_output(written):
    _, report, out, _ = written
    records = {(r["method"], r["features"], r["rebalance"]): r for r in report["records"]}
    assert report["meta"]["paired"]["n_compared"] == 6 and report["meta"]["paired"]["baseline"] == "lstm"
    verdicts = {"ahead", "behind", "not distinguishable", "undefined"}
    for (m, f, rb), r in records.items():
        if m == "lstm":
            assert "vs_baseline" not in r
            continue
        v, base = r["vs_baseline"], records[("lstm", f, rb)]
        assert v["baseline"] == f"lstm/{f}/{rb}"
        for metric in ("precision", "pr_auc"):
            d = v[metric]
            assert d["verdict"] in verdicts and d["p_holm"] >= d["p"]
            if r[metric] is not None and base[metric] is not None:
                # the difference of the two cells' seed-means shown in the other tables
                assert d["diff"] == pytest.approx(r[metric] - base[metric], abs=1e-12)
                assert d["ci_low"] <= d["ci_high"]
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    for text in (md, html):
        assert "Against the LSTM baseline (paired, Holm-adjusted)" in text and "verdict (precision)" in text
    assert md.count("| SiamCL / ") == 6


def test_breakdowns_by_ticker_and_year_match_the_predictions(written):
    _, report, out, _ = written
    b = report["breakdown"]
    assert (b["features"], b["rebalance"]) == ("ohlcv", "v1")
    npz = np.load(out / "predictions.npz")
    y, tickers, years = (
        npz["y_test"],
        npz["test_ticker"],
        npz["test_end_date"].astype("datetime64[Y]").astype(int) + 1970,
    )
    assert [g["group"] for g in b["by_ticker"]] == sorted(set(tickers.tolist()))
    assert [g["group"] for g in b["by_year"]] == sorted(set(years.tolist()))
    lstm = next(r for r in report["records"] if (r["method"], r["features"], r["rebalance"]) == ("lstm", "ohlcv", "v1"))
    assert sum(g["lstm"]["calls"] for g in b["by_year"]) == pytest.approx(lstm["n_pred_pos_mean"])
    for g in b["by_ticker"]:
        mask = tickers == g["group"]
        assert g["n"] == mask.sum() and g["base_rate"] == pytest.approx(y[mask].mean())
        per_seed = []
        for seed in lstm["seeds"]:
            key = rep.prediction_key("lstm", "ohlcv", "v1", seed, "")
            calls = (npz[key + "test_score"] >= npz[key + "threshold"]) & mask
            if calls.any():
                per_seed.append(y[calls].mean())
        assert g["lstm"]["precision"] == (pytest.approx(np.mean(per_seed)) if per_seed else None)
    md = (out / "report.md").read_text()
    assert "## Per ticker at original V1: base rate and precision" in md
    assert "## Per year at original V1: base rate and precision" in md
    assert "| ^GSPC |" in md


def test_html_embeds_the_four_figures_as_png(written):
    _, _, out, _ = written
    html = (out / "report.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 4
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    for title in ("Precision-recall curves", "Precision per cell", "principal components", "Training loss"):
        assert title in html


def test_report_files_are_readable_by_others(written):
    _, _, out, _ = written
    for p in out.iterdir():
        assert p.stat().st_mode & 0o044, p.name  # not mkstemp's 0600


def test_bad_grid_values_are_clear_errors():
    with pytest.raises(ValueError, match="methods: unknown value"):
        pipeline.check_grid(["lstm", "sim"], ["ohlcv"], ["v1"], [0])
    with pytest.raises(ValueError, match="rebalance has no value"):
        pipeline.check_grid(["lstm"], ["ohlcv"], [], [0])
    with pytest.raises(ValueError, match="seeds must be integers >= 0"):
        pipeline.check_grid(["lstm"], ["ohlcv"], ["v1"], [-1])
    with pytest.raises(ValueError, match="threshold rule"):
        pipeline.run_grid(resolve_config(None, TINY), methods=["lstm"], threshold_rule="best")


def test_per_window_thresholds_of_walk_forward_folds():
    rng = np.random.default_rng(4)
    y = (rng.random(400) < 0.2).astype(int)
    scores = rng.random((2, 400))
    dates = np.repeat(np.arange(100), 4).astype("datetime64[D]")
    # one threshold per window equal to the seed's threshold: the same record as a scalar one
    same = rep.aggregate_seeds(y, scores, np.array([[0.3], [0.6]]) * np.ones((2, 400)), dates=dates, n_boot=20)
    scalar = rep.aggregate_seeds(y, scores, [0.3, 0.6], dates=dates, n_boot=20)
    assert json_ready(same) == json_ready(scalar)
    # two folds with their own thresholds: precision of the pooled calls, seed by seed
    fold = np.repeat([0, 1], 200)
    t = np.where(fold == 0, 0.2, 0.8)[None, :] * np.ones((2, 1))
    agg = rep.aggregate_seeds(y, scores, t, dates=dates, n_boot=0)
    want = np.mean([precision_score(y, s >= t[0]) for s in scores])
    assert agg["precision"] == pytest.approx(want)
    one = classification_report(y, scores[0], t[0], dates=dates, n_boot=0)
    assert one["precision"] == pytest.approx(precision_score(y, scores[0] >= t[0]))
    per_fold = rep.fold_metrics(y, scores >= t, fold)
    assert per_fold[1]["precision"] == pytest.approx(
        np.mean([precision_score(y[fold == 1], s[fold == 1] >= 0.8) for s in scores])
    )
    assert per_fold[0]["base_rate"] == pytest.approx(y[:200].mean())
    with pytest.raises(ValueError, match="one per window"):
        classification_report(y, scores[0], np.ones(3), n_boot=0)
