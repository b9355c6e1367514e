"""Evaluation of one or several models on a split (CONTRACTS.md 6), as JSON and as an SVG plot of precision,
recall, F1 and accuracy against k, one line per model (the paper's Fig. 3).

Each model's entry is {"architecture", "metrics", "f1_by_kind"?}; when the dataset holds the split's hashtag-free
captions (`<split>_notags`), the entry also has "notags": {"metrics", "f1_by_kind"?} for them, drawn dashed. Next to
the trained models, the caption TF-IDF nearest-neighbour recommender (`tfidf-knn`, fitted on the train split) is
scored the same way: the baseline a cross-modal model has to beat."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import dataset as ds
from .metrics import ranking_metrics
from .models import load_checkpoint
from .neighbours import tfidf_knn_scores
from .train import predict_scores

PANELS = ("precision", "recall", "f1", "accuracy")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def evaluate(data_dir: Path, checkpoints: dict[str, Path], split: str = "test", baselines: bool = True) -> dict:
    if split not in ds.SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {ds.SPLITS}")
    data = ds.load(data_dir)
    part = getattr(data, split)
    if part is None:
        raise ValueError(f"{data_dir} has no {split} split")
    notags: ds.Split | None = getattr(data, f"{split}_notags", None)
    out: dict[str, dict] = {}
    for name, path in checkpoints.items():
        model, ckpt = load_checkpoint(path)
        if ckpt["hashtags"] != data.hashtags:
            raise ValueError(f"{name}: trained for other hashtags than {data_dir} lists")
        result: dict = {"architecture": ckpt["architecture"], **split_report(model, part, data)}
        if notags is not None:
            result["notags"] = split_report(model, notags, data)
        out[name] = result
    if baselines:
        result = {"architecture": "tfidf-knn", **scores_report(tfidf_knn_scores(data.train, part), part, data)}
        if notags is not None:
            result["notags"] = scores_report(tfidf_knn_scores(data.train, notags), notags, data)
        out["tfidf-knn"] = result
    return out


def split_report(model: object, part: ds.Split, data: ds.Dataset) -> dict:
    """{"metrics": ranking metrics at k (with recall_all / f1_all when the split has label_count), "f1_by_kind"}"""
    return scores_report(predict_scores(model, part), part, data)  # type: ignore[arg-type]


def scores_report(scores: np.ndarray, part: ds.Split, data: ds.Dataset) -> dict:
    """`split_report` of scores (N, H) already computed."""
    labels = np.asarray(part.labels)
    report: dict = {"metrics": ranking_metrics(scores, labels, label_count=part.label_count)}
    kinds: dict[str, str] = data.meta.get("kinds", {})
    if kinds:
        # per kind: does the model know which posts carry the kind's hashtags? Ranking within a kind cannot
        # tell (naming a colour ranks its relation tag first whether or not the anchor shows it), so this is
        # micro F1 of the yes/no decisions at probability 0.5 over the kind's hashtags
        report["f1_by_kind"] = {}
        for kind in sorted(set(kinds.values())):
            cols = [i for i, h in enumerate(data.hashtags) if kinds.get(h) == kind]
            report["f1_by_kind"][kind] = decision_f1(scores[:, cols] > 0, labels[:, cols].astype(bool))
    return report


def decision_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = float((predicted & truth).sum())
    denominator = float(predicted.sum() + truth.sum())
    return 2 * tp / denominator if denominator else 0.0


def svg_plot(results: dict, title: str) -> str:
    """Four small panels (precision, recall, F1, accuracy against k = 1..5), one line per model; dashed in the
    model's colour, the same on the hashtag-free captions when evaluated."""
    w, h, pad = 240, 180, 36
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{4 * w}" height="{h + 60}" font-family="sans-serif" font-size="11">',
             f"<title>{title}: precision, recall, F1 and accuracy at k = 1..5</title>",
             f'<text x="8" y="16" font-size="13">{title}</text>']
    for p, panel in enumerate(PANELS):
        x0, y0 = p * w + pad, 30
        pw, ph = w - pad - 10, h - 40
        parts.append(f'<text x="{x0}" y="{y0 - 4}">{panel}@k</text>')
        parts.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        for tick in (0, 0.5, 1):
            ty = y0 + ph * (1 - tick)
            parts.append(f'<text x="{x0 - 24}" y="{ty + 4}">{tick:.1f}</text>')
        for k in range(1, 6):
            parts.append(f'<text x="{x0 + pw * (k - 1) / 4 - 3}" y="{y0 + ph + 14}">{k}</text>')
        for m, (name, r) in enumerate(results.items()):
            for metrics, dash in ((r["metrics"], ""), (r.get("notags", {}).get("metrics"), ' stroke-dasharray="4 3"')):
                if metrics is None:
                    continue
                pts = " ".join(f"{x0 + pw * (k - 1) / 4:.1f},{y0 + ph * (1 - metrics[str(k)][panel]):.1f}" for k in range(1, 6))
                parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[m % len(COLOURS)]}" stroke-width="2"{dash}/>')
    for m, name in enumerate(results):
        parts.append(f'<text x="{8 + 150 * m}" y="{h + 50}" fill="{COLOURS[m % len(COLOURS)]}">&#9632; {name}</text>')
    if any("notags" in r for r in results.values()):
        parts.append(f'<text x="{8 + 150 * len(results)}" y="{h + 50}">dashed: captions without hashtags</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_report(results: dict, out: Path, title: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(results, indent=2))
    (out / "evaluation.svg").write_text(svg_plot(results, title))
