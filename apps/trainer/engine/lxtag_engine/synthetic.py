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
from dataclasses import asdict, dataclass
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


# --- the hard dataset: what real posts look like --------------------------------------------------------------------
#
# Real Instagram data is not the clean dataset above: a few hashtags sit on a large share of posts (Zipf), one photo
# is posted many times with different captions, captions name only some of their hashtags, and the labels are noisy.
# `make_hard` keeps the three kinds (visual, text, relation) and adds these four, so a caption-only TF-IDF kNN (which
# cannot see visual hashtags the caption does not name, nor which named colour the anchor shows) and a popularity
# prior are honest, non-trivial baselines.


@dataclass
class HardConfig:
    posts: int = 3000
    posts_per_image: int = 10  # one photo, many posts: images are 10x fewer than posts
    visual: int = 8  # objects: v<k> when the image shows object k
    text: int = 8  # topics: t<j>, named by one of `synonyms` words in the caption (or not)
    colours: int = 6  # r<c>: the caption names colour c and the anchor region shows it
    synonyms: int = 2
    filler: int = 150  # caption filler words, themselves Zipf-distributed like real stop words
    length: tuple[int, int] = (6, 18)  # caption words, before [CLS] and [SEP]; padded to the longest
    zipf: float = 0.8  # exponent of the hashtag frequencies by rank: rank r is on top_rate / r^zipf of the posts
    top_rate: float = 0.5  # the top hashtag (an object) is on half the posts
    mention_visual: float = 0.3  # chance that the caption names a visible object's word
    mention_text: float = 0.7  # chance that the caption names a topic the post is tagged with
    drop: float = 0.1  # label noise: each true label is lost with this chance ...
    add: float = 0.3  # ... and a post gains one hashtag, drawn by popularity, with this chance
    feature_dim: int = 2048
    seed: int = 0


def zipf_rates(n: int, top: float, exponent: float) -> np.ndarray:
    return top / np.arange(1, n + 1) ** exponent  # (n,) rate of rank 1, 2, ...


def hashtag_rates(c: HardConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Zipf curve over all hashtags, its ranks dealt to the kinds in turn (visual first, so the top hashtag
    shows in the image): the rates of the visual, text and relation hashtags."""
    kinds = [kind for _ in range(max(c.visual, c.text, c.colours)) for kind in range(3)]
    sizes = (c.visual, c.text, c.colours)
    order = [kind for i, kind in enumerate(kinds) if kinds[:i].count(kind) < sizes[kind]]  # drop exhausted kinds
    rates = zipf_rates(len(order), c.top_rate, c.zipf)
    return tuple(rates[[i for i, kind in enumerate(order) if kind == k]] for k in range(3))  # type: ignore[return-value]


def make_hard(c: HardConfig) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], list[str]]:
    """Returns the tensors, each post's image index (N,) for grouped splits, the hashtags and their kinds."""
    rng = np.random.default_rng(c.seed)
    n_images = max(1, c.posts // c.posts_per_image)
    protos = rng.normal(size=(c.visual + c.colours, c.feature_dim)).astype(np.float32)  # objects, then colours
    object_words = SPECIAL
    topic_words = object_words + c.visual  # `synonyms` consecutive ids per topic
    colour_words = topic_words + c.text * c.synonyms
    filler_words = colour_words + c.colours
    filler_p = zipf_rates(c.filler, 1.0, 1.0)
    filler_p /= filler_p.sum()
    visual_p, text_p, relation_p = hashtag_rates(c)
    # r<c> is a label when the anchor shows colour c and the caption names it: anchor colours follow the relation
    # hashtags' ranks, and the caption names the anchor's colour as often as their rates add up to
    anchor_p = relation_p / relation_p.sum()
    anchor_named = min(1.0, float(relation_p.sum()))

    feats, pos, shows, anchor_colour = draw_images(c, protos, n_images, visual_p, anchor_p, rng)
    hashtags = [f"v{k}" for k in range(c.visual)] + [f"t{j}" for j in range(c.text)] + [f"r{q}" for q in range(c.colours)]
    kinds = ["visual"] * c.visual + ["text"] * c.text + ["relation"] * c.colours
    # (N,) every photo posted at least once, the rest at random: some photos are posted more than others
    image = np.sort(np.concatenate([np.arange(n_images), rng.integers(0, n_images, c.posts - n_images)]))
    max_words = c.length[1]
    ids = np.zeros((c.posts, max_words + 2), np.int32)
    labels = np.zeros((c.posts, len(hashtags)), np.uint8)
    for n, i in enumerate(image):
        words = list(rng.choice(c.filler, size=int(rng.integers(c.length[0], c.length[1] + 1)), p=filler_p) + filler_words)
        mentions: list[int] = []
        for k in np.flatnonzero(shows[i]):
            labels[n, k] = 1
            if rng.random() < c.mention_visual:
                mentions.append(object_words + k)
        for j in np.flatnonzero(rng.random(c.text) < text_p):
            labels[n, c.visual + j] = 1
            if rng.random() < c.mention_text:
                mentions.append(topic_words + j * c.synonyms + int(rng.integers(0, c.synonyms)))
        # two named colours, the anchor's among them with chance `anchor_named`: naming a colour is a hint only
        others = np.setdiff1d(np.arange(c.colours), [anchor_colour[i]])
        if rng.random() < anchor_named:
            named = [anchor_colour[i], rng.choice(others)]
            labels[n, c.visual + c.text + anchor_colour[i]] = 1
        else:
            named = list(rng.choice(others, size=2, replace=False))
        mentions += [colour_words + int(q) for q in named]
        for m, slot in zip(mentions, rng.choice(len(words) + len(mentions), size=len(mentions), replace=False)):
            words.insert(min(int(slot), len(words)), m)
        words = words[:max_words]
        ids[n, :len(words) + 2] = [2, *words, 3]
    labels = noisy(labels, c, rng)
    tensors = {"input_ids": ids, "attention_mask": (ids > 0).astype(np.uint8),
               "visual_feats": feats[image].astype(np.float16), "visual_pos": pos[image], "labels": labels}
    return tensors, image, hashtags, kinds


def draw_images(c: HardConfig, protos: np.ndarray, n_images: int, visual_p: np.ndarray, anchor_p: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The photos, shared by all their posts: region features (I, 36, F), boxes (I, 36, 4), the objects each
    shows (I, V) and its anchor's colour (I,)."""
    feats = rng.normal(scale=0.3, size=(n_images, 36, c.feature_dim)).astype(np.float32)
    pos = np.zeros((n_images, 36, 4), np.float32)
    shows = rng.random((n_images, c.visual)) < visual_p  # (I, V)
    anchor_colour = rng.choice(c.colours, size=n_images, p=anchor_p)
    for i in range(n_images):
        xy = rng.random((36, 2)).astype(np.float32) * 0.8
        pos[i] = np.concatenate([xy, xy + 0.15], axis=1)
        anchor = int(rng.integers(0, 36))
        pos[i, anchor] = ANCHOR_BOX
        region_colours = rng.integers(0, c.colours, 36)  # every region shows some colour; only the anchor counts
        region_colours[anchor] = anchor_colour[i]
        feats[i] += protos[c.visual + region_colours]
        others = np.delete(np.arange(36), anchor)
        for k in np.flatnonzero(shows[i]):
            feats[i, rng.choice(others, size=4, replace=False)] += protos[k]
    return feats, pos, shows, anchor_colour


def noisy(labels: np.ndarray, c: HardConfig, rng: np.random.Generator) -> np.ndarray:
    """Drops each label with chance `drop`, and adds one hashtag drawn by popularity to a share `add` of posts."""
    out = labels & (rng.random(labels.shape) >= c.drop)
    popularity = labels.mean(axis=0) + 1e-9
    extra = rng.choice(labels.shape[1], size=len(labels), p=popularity / popularity.sum())
    gains = rng.random(len(labels)) < c.add
    out[np.flatnonzero(gains), extra[gains]] = 1
    return out.astype(np.uint8)


def grouped_splits(image: np.ndarray, seed: int, split: tuple[float, float]) -> dict[str, np.ndarray]:
    """Post indices per split; a photo's posts all land in one split, so no split sees another's images."""
    images = np.random.default_rng(seed + 1).permutation(int(image.max()) + 1)
    n_val, n_test = int(len(images) * split[0]), int(len(images) * split[1])
    groups = {"val": images[:n_val], "test": images[n_val:n_val + n_test], "train": images[n_val + n_test:]}
    return {name: np.flatnonzero(np.isin(image, g)) for name, g in groups.items()}


def write_hard(out: Path, c: HardConfig, split: tuple[float, float] = (0.15, 0.2)) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    tensors, image, hashtags, kinds = make_hard(c)
    parts = grouped_splits(image, c.seed, split)
    for name, idx in parts.items():
        safetensors.write(out / f"{name}.safetensors", {k: v[idx] for k, v in tensors.items()},
                          {"post_ids": json.dumps([int(i) for i in idx]), "image_ids": json.dumps(image[idx].tolist())})
    frequency = tensors["labels"].mean(axis=0)
    meta = {"id": f"synthetic-hard-{c.posts}-{c.seed}", "hashtags": hashtags, "kinds": dict(zip(hashtags, kinds)),
            "splits": {k: int(len(v)) for k, v in parts.items()}, "detector": "synthetic",
            "vocab_size": int(tensors["input_ids"].max()) + 1, "feature_dim": c.feature_dim,
            "max_length": int(tensors["input_ids"].shape[1]),
            # captions carry topic and object words, never hashtag tokens: no separate notags variant is needed
            "captions": "hashtag-free", "images": int(image.max()) + 1,
            "frequency": {h: round(float(f), 4) for h, f in zip(hashtags, frequency)}, "config": asdict(c)}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2))
    return meta
