"""Nearest-neighbour scoring, two ways: a caption TF-IDF kNN baseline (what a simple text retriever achieves), and a
blend of a trained model's probabilities with the labels of its nearest training posts in the model's own pooled
space, exportable as one ONNX graph with the model contract (CONTRACTS.md 4).

Shapes: N bank (training) posts, Q queries, B batch, V vocabulary, D pooled size, H hashtags, k neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import dataset as ds
from .export import export_model
from .metrics import ranking_metrics
from .models import load_checkpoint, training_of
from .train import predict_scores

SPECIAL_IDS = 5  # [PAD] [UNK] [CLS] [SEP] [MASK]: not words
POPULARITY_PRIOR = 1e-6  # breaks ties (and fills posts without any shared word) by training-label frequency
PAIR_BUDGET = 4_000_000  # (query term, training post) pairs per chunk: bounds memory on common words
MAX_CHUNK = 256  # queries per chunk: bounds the (chunk, N) similarity matrix

KS = (5, 10, 20, 50)
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
KEEP_MARGIN = 0.01  # a blend must raise val F1@2 by more than this (about the noise of a few hundred val posts)
BANK_CAP = 20_000  # training posts in an exported bank: 20k x D float32 (61 MB at D = 768)


# --- TF-IDF kNN on captions ----------------------------------------------------------------------------------------


@dataclass
class TermMatrix:
    """L2-normalized TF-IDF rows as coordinates, sorted by (row, term)."""

    rows: np.ndarray  # (nnz,) int64
    terms: np.ndarray  # (nnz,) int64
    values: np.ndarray  # (nnz,) float64
    n: int


def term_counts(split: ds.Split, vocab: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per post, how often each word occurs: (rows, terms, counts), sorted by row then term."""
    ids = np.asarray(split.input_ids, dtype=np.int64)  # (N, L)
    keep = np.asarray(split.attention_mask).astype(bool) & (ids >= SPECIAL_IDS)
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)[keep]
    keys, counts = np.unique(rows * vocab + ids[keep], return_counts=True)
    return keys // vocab, keys % vocab, counts.astype(np.float64)


def smoothed_idf(train: ds.Split, vocab: int) -> np.ndarray:
    _, terms, _ = term_counts(train, vocab)
    df = np.bincount(terms, minlength=vocab)  # (V,) posts containing the word
    return np.log((1 + len(train)) / (1 + df)) + 1  # (V,) sklearn's smooth_idf: unseen words count, never divide by 0


def tfidf(split: ds.Split, idf: np.ndarray) -> TermMatrix:
    rows, terms, counts = term_counts(split, len(idf))
    values = counts * idf[terms]
    norms = np.sqrt(np.bincount(rows, weights=values ** 2, minlength=len(split)))  # (N,)
    return TermMatrix(rows, terms, values / norms[rows], len(split))


def postings(m: TermMatrix, vocab: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix by term (an inverted index): start offsets (V + 1,), then rows and values in term order."""
    order = np.argsort(m.terms, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(m.terms, minlength=vocab))])
    return starts, m.rows[order], m.values[order]


def chunks(pairs_per_query: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive query ranges whose (term, post) pairs stay under PAIR_BUDGET (a query alone may exceed it)."""
    out, start, total = [], 0, 0
    for q, pairs in enumerate(pairs_per_query):
        if q > start and (total + pairs > PAIR_BUDGET or q - start >= MAX_CHUNK):
            out.append((start, q))
            start, total = q, 0
        total += int(pairs)
    if start < len(pairs_per_query):
        out.append((start, len(pairs_per_query)))
    return out


def cosine_chunk(query: TermMatrix, lo: int, hi: int, index: tuple[np.ndarray, np.ndarray, np.ndarray],
                 n_train: int) -> np.ndarray:
    """Cosine similarities of queries lo..hi to every training post, (hi - lo, N), by joining the queries' terms
    with the inverted index and summing the products with one bincount (no scipy)."""
    starts, post_rows, post_values = index
    sel = slice(*np.searchsorted(query.rows, [lo, hi]))
    q_rows, q_terms, q_values = query.rows[sel] - lo, query.terms[sel], query.values[sel]
    lengths = starts[q_terms + 1] - starts[q_terms]  # (nnz_chunk,) postings per query term
    first = np.repeat(starts[q_terms] - np.cumsum(lengths) + lengths, lengths)
    joined = first + np.arange(int(lengths.sum()))  # (pairs,) positions in the inverted index
    keys = np.repeat(q_rows, lengths) * n_train + post_rows[joined]
    sims = np.bincount(keys, weights=np.repeat(q_values, lengths) * post_values[joined], minlength=(hi - lo) * n_train)
    return sims.reshape(hi - lo, n_train)


def neighbour_vote(sims: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted share of the top-k neighbours carrying each hashtag: (Q, N) sims -> (Q, H) in [0, 1]."""
    k = min(k, sims.shape[1])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (Q, k) unordered: the vote does not need the order
    w = np.clip(np.take_along_axis(sims, top, axis=1), 0, None)  # (Q, k)
    votes = np.einsum("qk,qkh->qh", w, labels[top].astype(np.float64))  # (Q, H)
    return votes / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)


def tfidf_knn_scores(train: ds.Split, query: ds.Split, k: int = 20) -> np.ndarray:
    """(Q, H) hashtag scores of `query` posts from their k most similar `train` captions (TF-IDF cosine). A caption
    sharing no word with any training post scores by popularity alone."""
    vocab = int(max(np.asarray(train.input_ids).max(initial=0), np.asarray(query.input_ids).max(initial=0))) + 1
    idf = smoothed_idf(train, vocab)
    bank, queries = tfidf(train, idf), tfidf(query, idf)
    index = postings(bank, vocab)
    labels = np.asarray(train.labels)
    popularity = labels.mean(axis=0)  # (H,)
    per_term = index[0][queries.terms + 1] - index[0][queries.terms]
    pairs = np.bincount(queries.rows, weights=per_term, minlength=queries.n)  # (Q,)
    out = np.empty((queries.n, labels.shape[1]), np.float32)
    for lo, hi in chunks(pairs):
        out[lo:hi] = neighbour_vote(cosine_chunk(queries, lo, hi, index, bank.n), labels, k)
    return out + POPULARITY_PRIOR * popularity.astype(np.float32)


def popularity_scores(train: ds.Split, query: ds.Split) -> np.ndarray:
    """(Q, H): every post scored by training-label frequency (what the `popularity` architecture converges to)."""
    return np.tile(np.asarray(train.labels).mean(axis=0, dtype=np.float32), (len(query), 1))


# --- the neighbour blend over a model's pooled space -----------------------------------------------------------------


def knn_vote(query: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor, k: int) -> torch.Tensor:
    """(B, D) pooled queries against the (N, D) L2-normalized bank -> (B, H) similarity-weighted label shares of
    the top k (k <= N: callers guard it, so the exported graph holds no shape test). One implementation for
    fitting and for the exported graph, so what was fitted is what is served."""
    sims = F.normalize(query, dim=-1) @ bank.T  # (B, N) cosine
    top, idx = sims.topk(k, dim=1)  # (B, k): ONNX TopK
    w = top.clamp(min=0)  # an anti-similar post is no evidence either way
    labels = bank_labels.index_select(0, idx.reshape(-1)).reshape(-1, k, bank_labels.shape[1]).to(w.dtype)  # (B, k, H)
    return (w.unsqueeze(-1) * labels).sum(dim=1) / w.sum(dim=1, keepdim=True).clamp(min=1e-6)


def blend(logits: torch.Tensor, knn: torch.Tensor, weight: float) -> torch.Tensor:
    """p = (1 - w) sigmoid(logits) + w knn, returned as logits so a consumer that applies sigmoid gets p back."""
    p = ((1 - weight) * torch.sigmoid(logits) + weight * knn).clamp(1e-6, 1 - 1e-6)
    return torch.log(p / (1 - p))


@dataclass
class Bank:
    vectors: np.ndarray  # (N, D) float32, L2-normalized pooled vectors of training posts
    labels: np.ndarray  # (N, H) uint8


@torch.no_grad()
def pooled_outputs(model: nn.Module, split: ds.Split, idx: np.ndarray | None = None,
                   batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(logits (N, H), pooled (N, D)) of a split's posts `idx` (default all), in eval mode."""
    model.eval()
    idx = np.arange(len(split)) if idx is None else idx
    assert np.all(np.diff(idx) > 0), "batch() sorts its indices: rows line up with idx only when it is sorted"
    logits, pooled = [], []
    for start in range(0, len(idx), batch_size):
        b = split.batch(idx[start:start + batch_size])
        lg, pl = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], b["visual_feats"], b["visual_pos"])
        logits.append(lg.float())
        pooled.append(pl.float())
    return torch.cat(logits).numpy(), torch.cat(pooled).numpy()


def make_bank(model: nn.Module, train: ds.Split, cap: int = BANK_CAP, seed: int = 0) -> Bank:
    """The pooled vectors and labels of (at most `cap`, drawn at random) training posts."""
    idx = np.arange(len(train))
    if len(idx) > cap:
        idx = np.sort(np.random.default_rng(seed).choice(len(train), size=cap, replace=False))
    _, pooled = pooled_outputs(model, train, idx)
    vectors = F.normalize(torch.from_numpy(pooled), dim=-1).numpy().astype(np.float32)
    return Bank(vectors, np.asarray(train.labels[idx], dtype=np.uint8))


@dataclass
class Scored:
    """What the blend needs from one split: the model's logits and the kNN votes for every k in the grid."""

    logits: torch.Tensor  # (Q, H)
    votes: dict[int, torch.Tensor]  # k -> (Q, H)
    labels: np.ndarray  # (Q, H)


def score_split(model: nn.Module, split: ds.Split, bank: Bank, ks: tuple[int, ...]) -> Scored:
    logits, pooled = pooled_outputs(model, split)
    ks = tuple(min(k, len(bank.vectors)) for k in ks)
    vectors, labels = torch.from_numpy(bank.vectors), torch.from_numpy(bank.labels)
    queries = torch.from_numpy(pooled).split(512)  # bounds the (chunk, N) similarity matrix
    votes = {k: torch.cat([knn_vote(q, vectors, labels, k) for q in queries]) for k in ks}
    return Scored(torch.from_numpy(logits), votes, np.asarray(split.labels))


def f1_at(scored: Scored, k: int, weight: float, at: int = 2) -> float:
    scores = blend(scored.logits, scored.votes[k], weight).numpy()
    return ranking_metrics(scores, scored.labels, range(at, at + 1))[str(at)]["f1"]


def fit_blend(model: nn.Module, data: ds.Dataset, bank: Bank | None = None, ks: tuple[int, ...] = KS,
              weights: tuple[float, ...] = WEIGHTS, margin: float = KEEP_MARGIN) -> dict:
    """Chooses k and the weight w of the kNN votes by val F1@2 (the mean over val and val_notags where the dataset
    has both). Keeps w = 0 (no blend) unless the best w beats it by more than `margin`. Returns
    {"kept", "weight", "k", "bank", "val_f1_at_2_without", "val_f1_at_2_with", "tried": the best w > 0 and its
    val F1@2, kept or not}."""
    bank = bank if bank is not None else make_bank(model, data.train)
    ks = tuple(sorted({min(k, len(bank.vectors)) for k in ks}))
    vals = [s for s in (data.val, getattr(data, "val_notags", None)) if s is not None and len(s)]
    if not vals:
        raise ValueError("fitting a blend needs a val split")
    scored = [score_split(model, s, bank, ks) for s in vals]

    def val_f1(k: int, w: float) -> float:
        return float(np.mean([f1_at(s, k, w) for s in scored]))

    without = val_f1(ks[0], 0.0)
    # ties go to the smaller weight, then the smaller k: the least blending that reaches the best F1
    best_f1, best_w, best_k = max(((val_f1(k, w), -w, -k) for k in ks for w in weights if w > 0))
    best_w, best_k = -best_w, -best_k
    kept = best_f1 > without + margin
    return {"kept": bool(kept), "weight": best_w if kept else 0.0, "k": best_k, "bank": int(len(bank.vectors)),
            "val_f1_at_2_without": without, "val_f1_at_2_with": best_f1 if kept else without,
            "tried": {"weight": best_w, "val_f1_at_2": best_f1}}


class BlendedModel(nn.Module):
    """A trained model plus its neighbour bank, with the model contract: same five inputs; `logits` (B, H) whose
    sigmoid is the blended probability, and the base model's `pooled` (B, D). The bank is fixed at export."""

    def __init__(self, base: nn.Module, bank: Bank, k: int, weight: float) -> None:
        super().__init__()
        if len(bank.vectors) == 0:
            raise ValueError("a blend needs a non-empty bank")
        self.base = base
        self.config = base.config  # type: ignore[union-attr]  # export reads the input sizes from it
        self.k = min(k, len(bank.vectors))  # guard: a bank smaller than k votes with all of it
        self.weight = float(weight)
        self.register_buffer("bank", torch.from_numpy(np.ascontiguousarray(bank.vectors, dtype=np.float32)))  # (N, D)
        self.register_buffer("bank_labels", torch.from_numpy(np.ascontiguousarray(bank.labels, dtype=np.uint8)))  # (N, H)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, pooled = self.base(input_ids, attention_mask, token_type_ids, visual_feats, visual_pos)
        knn = knn_vote(pooled, self.bank, self.bank_labels, self.k)  # (B, H)
        return blend(logits, knn, self.weight), pooled


# --- the `blend` command -------------------------------------------------------------------------------------------


def f1_by_k(scored: Scored, k: int, weight: float) -> dict[str, float]:
    """F1@1..5 of a split, with the kNN votes of `k` neighbours at `weight` (0: the model alone)."""
    metrics = ranking_metrics(blend(scored.logits, scored.votes[k], weight).numpy(), scored.labels)
    return {at: m["f1"] for at, m in metrics.items()}


def blend_bundle(data_dir: Path, checkpoint: Path, out: Path, detector: str | None = None,
                 force: bool = False) -> dict:
    """Fits the blend of `checkpoint` on `data_dir`; exports the blended bundle into `out` only when it is kept
    (`force`: with the best weight tried, kept or not: tests that serve a blended bundle). Returns the command's
    JSON line, with test F1@1..5 without and with the best blend tried when a test split exists."""
    data = ds.load(data_dir)
    model, ckpt = load_checkpoint(checkpoint)
    if ckpt["hashtags"] != data.hashtags:
        raise ValueError(f"{checkpoint} was trained for other hashtags than {data_dir} lists")
    bank = make_bank(model, data.train)
    fit = fit_blend(model, data, bank)
    line = {"event": "blend", **fit}
    if force and not fit["kept"]:  # `kept` stays validation's verdict; the bundle has the best weight tried
        fit = {**fit, "weight": fit["tried"]["weight"], "val_f1_at_2_with": fit["tried"]["val_f1_at_2"]}
        line["forced"] = True
    for name in ("test", "test_notags"):
        part = getattr(data, name, None)
        if part is not None and len(part):
            scored = score_split(model, part, bank, (fit["k"],))
            line[name] = {"without": f1_by_k(scored, fit["k"], 0.0), "with": f1_by_k(scored, fit["k"], fit["tried"]["weight"])}
    if fit["kept"] or force:
        export_blended(BlendedModel(model, bank, fit["k"], fit["weight"]), data, ckpt, out, detector, fit)
        line["out"] = str(out)
    return line


def export_blended(model: BlendedModel, data: ds.Dataset, ckpt: dict, out: Path, detector: str | None,
                   fit: dict) -> dict:
    """The blended bundle: the base model's architecture and config (the bank is a part of the graph, not of the
    config); the blend's parameters under the manifest's top-level `blend` (the contracts' zod schema is not
    strict, so readers that do not know the key pass it by)."""
    meta = data.meta
    metrics = {}
    for name in ("val", "val_notags", "test", "test_notags"):
        part = getattr(data, name, None)
        if part is not None and len(part):
            metrics[name] = ranking_metrics(predict_scores(model, part), np.asarray(part.labels))
    manifest = export_model(model, out, architecture=ckpt["architecture"], config=ckpt["config"],
                            hashtags=ckpt["hashtags"], detector=detector or meta.get("detector", "unknown"),
                            max_length=meta.get("max_length", 128), metrics=metrics,
                            dataset={"id": meta.get("id"), **{s: meta.get("splits", {}).get(s, 0) for s in ("train", "val", "test")}},
                            training=training_of(ckpt))
    manifest["blend"] = {key: fit[key] for key in ("weight", "k", "bank", "val_f1_at_2_without", "val_f1_at_2_with")}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
