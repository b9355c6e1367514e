"""CONTRACTS.md section 6: ranking metrics at k, micro and per-post (macro) averages."""

from __future__ import annotations

import numpy as np


def ranking_metrics(scores: np.ndarray, labels: np.ndarray, ks: range = range(1, 6)) -> dict[str, dict[str, float]]:
    """scores (N, H) any real ranking score; labels (N, H) multi-hot. Posts without labels count in N."""
    n, h = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    truth = labels.astype(bool)
    total_true = truth.sum()
    out: dict[str, dict[str, float]] = {}
    for k in ks:
        k_eff = min(k, h)
        hits = np.take_along_axis(truth, order[:, :k_eff], axis=1)  # (N, k)
        tp = hits.sum(axis=1)  # (N,)
        p = tp.sum() / (k * n) if n else 0.0
        r = tp.sum() / total_true if total_true else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_true = truth.sum(axis=1)
        macro_p = float(np.mean(tp / k)) if n else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            macro_r_each = np.where(per_true > 0, tp / np.maximum(per_true, 1), np.nan)
        macro_r = float(np.nanmean(macro_r_each)) if np.any(per_true > 0) else 0.0
        macro_f1 = 2 * macro_p * macro_r / (macro_p + macro_r) if macro_p + macro_r else 0.0
        out[str(k)] = {"precision": float(p), "recall": float(r), "f1": float(f1),
                       "accuracy": float(np.mean(tp > 0)) if n else 0.0,
                       "macro_precision": macro_p, "macro_recall": macro_r, "macro_f1": float(macro_f1)}
    return out
