"""CONTRACTS.md section 6: ranking metrics at k, micro and per-post (macro) averages; with each post's count of
every true hashtag (`label_count`, including those outside the model's outputs), also recall and F1 over them."""

from __future__ import annotations

import numpy as np


def ranking_metrics(scores: np.ndarray, labels: np.ndarray, ks: range = range(1, 6),
                    label_count: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """scores (N, H) any real ranking score; labels (N, H) multi-hot. Posts without labels count in N.

    label_count (N,): each post's number of true hashtags, the ones the model cannot output included; when given,
    every k also gets `recall_all` (Σ TP_k / Σ label_count) and `f1_all` (from precision and that recall), the
    numbers that compare with methods whose vocabulary is not ours."""
    n, h = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    truth = labels.astype(bool)
    total_true = truth.sum()
    per_true = truth.sum(axis=1)  # (N,)
    total_all = _total_all(label_count, per_true) if label_count is not None else None
    out: dict[str, dict[str, float]] = {}
    for k in ks:
        k_eff = min(k, h)
        hits = np.take_along_axis(truth, order[:, :k_eff], axis=1)  # (N, k)
        tp = hits.sum(axis=1)  # (N,)
        p = tp.sum() / (k * n) if n else 0.0
        r = tp.sum() / total_true if total_true else 0.0
        macro_p = float(np.mean(tp / k)) if n else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            macro_r_each = np.where(per_true > 0, tp / np.maximum(per_true, 1), np.nan)
        macro_r = float(np.nanmean(macro_r_each)) if np.any(per_true > 0) else 0.0
        out[str(k)] = {"precision": float(p), "recall": float(r), "f1": _f1(p, r),
                       "accuracy": float(np.mean(tp > 0)) if n else 0.0,
                       "macro_precision": macro_p, "macro_recall": macro_r, "macro_f1": _f1(macro_p, macro_r)}
        if total_all is not None:
            r_all = tp.sum() / total_all if total_all else 0.0
            out[str(k)].update(recall_all=float(r_all), f1_all=_f1(p, r_all))
    return out


def _f1(p: float, r: float) -> float:
    return float(2 * p * r / (p + r)) if p + r else 0.0


def _total_all(label_count: np.ndarray, per_true: np.ndarray) -> int:
    counts = np.asarray(label_count).reshape(-1).astype(np.int64)
    if counts.shape != per_true.shape:
        raise ValueError(f"label_count has {counts.shape[0]} entries for {per_true.shape[0]} posts")
    short = np.nonzero(counts < per_true)[0]
    if short.size:  # it counts every true hashtag, so never fewer than the labelled ones
        i = int(short[0])
        raise ValueError(f"label_count of post {i} is {int(counts[i])}, below its {int(per_true[i])} labelled hashtags "
                         f"({short.size} posts like it)")
    return int(counts.sum())
