"""A synthetic dataset (CONTRACTS.md 5 shards) with three kinds of hashtags:

- visual: `v<k>` when any region shows visual prototype k;
- text: `t<j>` when the caption contains word j;
- relation: `r<c>` when the caption names colour c (it names three) *and* the anchor region shows colour c. The
  anchor is the one region with a distinctive box; its place among the 36 is random and every other region shows
  a random colour, so a mean-pooled visual vector cannot tell which named colour, if any, the anchor shows:
  cross-attention over boxes can. Each post has at most one tag of each kind, so knowing the relation decides
  what fills the top 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import safetensors

SPECIAL = 5  # [PAD] [UNK] [CLS] [SEP] [MASK]
ANCHOR_BOX = np.array([0.05, 0.05, 0.95, 0.95], dtype=np.float32)  # the one large region


def make(n: int, seed: int = 0, visual: int = 4, text: int = 4, colours: int = 6, named: int = 3, length: int = 8,
         feature_dim: int = 2048) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(visual + colours, feature_dim)).astype(np.float32)  # visual prototypes, then colours
    word_base = SPECIAL  # text words, then colour words, then filler
    colour_base = SPECIAL + text
    filler_base = colour_base + colours
    vocab = filler_base + 20
    ids = np.zeros((n, length + 2), np.int32)
    feats = rng.normal(scale=0.3, size=(n, 36, feature_dim)).astype(np.float32)
    pos = np.zeros((n, 36, 4), np.float32)
    hashtags = [f"v{k}" for k in range(visual)] + [f"t{j}" for j in range(text)] + [f"r{c}" for c in range(colours)]
    kinds = ["visual"] * visual + ["text"] * text + ["relation"] * colours
    labels = np.zeros((n, len(hashtags)), np.uint8)
    for i in range(n):
        # the caption: filler, one text word half of the time, and `named` distinct colour words
        words = list(rng.integers(filler_base, vocab, length))
        slots = rng.permutation(length)
        named_colours = rng.choice(colours, size=named, replace=False)
        for slot, c in zip(slots, named_colours):
            words[slot] = colour_base + c
        if rng.random() < 0.5:
            j = int(rng.integers(0, text))
            words[slots[named]] = word_base + j
            labels[i, visual + j] = 1
        ids[i] = [2, *words, 3]
        # every region shows a colour, so "a named colour is somewhere" says nothing; only the anchor counts. The
        # anchor is the one large region, at a random index; it shows one of the named colours 60% of the time.
        xy = rng.random((36, 2)).astype(np.float32) * 0.8
        pos[i] = np.concatenate([xy, xy + 0.15], axis=1)
        anchor = int(rng.integers(0, 36))
        pos[i, anchor] = ANCHOR_BOX
        region_colours = rng.integers(0, colours, 36)
        unnamed = np.setdiff1d(np.arange(colours), named_colours)
        region_colours[anchor] = rng.choice(named_colours) if rng.random() < 0.6 else rng.choice(unnamed)
        feats[i] += protos[visual + region_colours]
        if region_colours[anchor] in named_colours:
            labels[i, visual + text + region_colours[anchor]] = 1
        # half of the posts show an object: its prototype on four non-anchor regions (one object, several
        # overlapping boxes, as detectors report them)
        if rng.random() < 0.5:
            k = int(rng.integers(0, visual))
            feats[i, rng.choice(np.delete(np.arange(36), anchor), size=4, replace=False)] += protos[k]
            labels[i, k] = 1
    tensors = {"input_ids": ids, "attention_mask": np.ones_like(ids, dtype=np.uint8),
               "visual_feats": feats.astype(np.float16), "visual_pos": pos, "labels": labels}
    return tensors, hashtags, kinds


def write(out: Path, n: int, seed: int = 0, split: tuple[float, float] = (0.1, 0.2), feature_dim: int = 2048) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    tensors, hashtags, kinds = make(n, seed, feature_dim=feature_dim)
    n_val, n_test = int(n * split[0]), int(n * split[1])
    parts = {"val": slice(0, n_val), "test": slice(n_val, n_val + n_test), "train": slice(n_val + n_test, n)}
    for name, sl in parts.items():
        safetensors.write(out / f"{name}.safetensors", {k: v[sl] for k, v in tensors.items()})
    meta = {"id": f"synthetic-{n}-{seed}", "hashtags": hashtags, "kinds": dict(zip(hashtags, kinds)),
            "splits": {k: sl.stop - sl.start for k, sl in parts.items()}, "detector": "synthetic",
            "vocab_size": int(tensors["input_ids"].max()) + 1, "feature_dim": feature_dim, "max_length": int(tensors["input_ids"].shape[1])}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2))
    return meta
