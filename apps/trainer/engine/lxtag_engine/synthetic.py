"""A synthetic dataset (CONTRACTS.md 5 shards) with three kinds of hashtags:

- visual: `v<k>` when any region shows visual prototype k;
- text: `t<j>` when the caption contains word j;
- relation: `r<c>` when the caption names colour c *and* the anchor region shows colour c. The anchor is the one
  region with a distinctive box; its place among the 36 is random and the other regions show colours at random,
  so a mean-pooled visual vector cannot tell whether the anchor matches: cross-attention over boxes can.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import safetensors

SPECIAL = 5  # [PAD] [UNK] [CLS] [SEP] [MASK]
ANCHOR_BOX = np.array([0.4, 0.4, 0.6, 0.6], dtype=np.float32)


def make(n: int, seed: int = 0, visual: int = 4, text: int = 4, colours: int = 4, length: int = 8,
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
        words = list(rng.integers(filler_base, vocab, length))
        for j in rng.choice(text, size=rng.integers(0, 3), replace=False):
            words[rng.integers(0, length)] = word_base + j
        named = int(rng.integers(0, colours))
        words[rng.integers(0, length)] = colour_base + named
        ids[i] = [2, *words, 3]
        labels[i, visual:visual + text] = [int(word_base + j in words) for j in range(text)]
        # boxes: random small boxes, one anchor with the distinctive box at a random index
        xy = rng.random((36, 2)).astype(np.float32) * 0.8
        pos[i] = np.concatenate([xy, xy + 0.15], axis=1)
        anchor = int(rng.integers(0, 36))
        pos[i, anchor] = ANCHOR_BOX
        # colours shown on some regions at random; the anchor shows the named colour half of the time
        for r in rng.choice(36, size=6, replace=False):
            feats[i, r] += protos[visual + rng.integers(0, colours)]
        anchor_colour = named if rng.random() < 0.5 else int(rng.integers(0, colours))
        feats[i, anchor] = protos[visual + anchor_colour] + rng.normal(scale=0.3, size=feature_dim)
        labels[i, visual + text + named] = int(anchor_colour == named)
        # visual prototypes on random non-anchor regions
        for k in rng.choice(visual, size=rng.integers(0, 3), replace=False):
            r = int(rng.integers(0, 36))
            if r != anchor:
                feats[i, r] += protos[k]
                labels[i, k] = 1
    tensors = {"input_ids": ids, "attention_mask": np.ones_like(ids, dtype=np.uint8),
               "visual_feats": feats.astype(np.float16), "visual_pos": pos, "labels": labels}
    return tensors, hashtags, kinds


def write(out: Path, n: int, seed: int = 0, split: tuple[float, float] = (0.1, 0.2)) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    tensors, hashtags, kinds = make(n, seed)
    n_val, n_test = int(n * split[0]), int(n * split[1])
    parts = {"val": slice(0, n_val), "test": slice(n_val, n_val + n_test), "train": slice(n_val + n_test, n)}
    for name, sl in parts.items():
        safetensors.write(out / f"{name}.safetensors", {k: v[sl] for k, v in tensors.items()})
    meta = {"id": f"synthetic-{n}-{seed}", "hashtags": hashtags, "kinds": dict(zip(hashtags, kinds)),
            "splits": {k: sl.stop - sl.start for k, sl in parts.items()}, "detector": "synthetic",
            "vocab_size": int(tensors["input_ids"].max()) + 1, "max_length": int(tensors["input_ids"].shape[1])}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2))
    return meta
