"""Training shards (CONTRACTS.md 5), memory-mapped; a split may be one file or numbered parts.

A folder may also hold `<split>_notags` for train, val and test: the same posts in the same order, with every hashtag
removed from the caption (what the model sees when a user asks for hashtags before writing any). Their shards need
only `input_ids` and `attention_mask`; the features, labels and counts are the base split's."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import safetensors

FIELDS = ("input_ids", "attention_mask", "visual_feats", "visual_pos", "labels")
OPTIONAL_FIELDS = ("label_count",)  # I32 (N,): every true hashtag of the post, also those outside the outputs
TEXT_FIELDS = ("input_ids", "attention_mask")
SPLITS = ("train", "val", "test", "train_notags", "val_notags", "test_notags")


@dataclass
class Split:
    input_ids: np.ndarray  # (N, L) int32
    attention_mask: np.ndarray  # (N, L) uint8
    visual_feats: np.ndarray  # (N, 36, 2048) float16
    visual_pos: np.ndarray  # (N, 36, 4) float32
    labels: np.ndarray  # (N, H) uint8
    label_count: np.ndarray | None = None  # (N,) int32, when the shards carry it

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def batch(self, idx: np.ndarray, text_from: "Split | None" = None,
              use_text_from: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Rows `idx`; with `text_from` (a text variant of this split) the rows where `use_text_from` (aligned with
        the sorted `idx`) is true read their text from it: label-word masking in training."""
        idx = np.sort(idx)  # sequential reads from the memory map
        ids, attention = np.asarray(self.input_ids[idx]), np.asarray(self.attention_mask[idx])  # (B, L)
        if text_from is not None and use_text_from is not None:
            ids = np.where(use_text_from[:, None], np.asarray(text_from.input_ids[idx]), ids)
            attention = np.where(use_text_from[:, None], np.asarray(text_from.attention_mask[idx]), attention)
        mask = torch.from_numpy(attention.astype(np.int64))
        length = max(int(mask.sum(dim=1).max()), 2)  # trim padding shared by the whole batch
        return {
            "input_ids": torch.from_numpy(ids[:, :length].astype(np.int64)),
            "attention_mask": mask[:, :length],
            "token_type_ids": torch.zeros((len(idx), length), dtype=torch.int64),
            "visual_feats": torch.from_numpy(np.asarray(self.visual_feats[idx], dtype=np.float32)),
            "visual_pos": torch.from_numpy(np.asarray(self.visual_pos[idx], dtype=np.float32)),
            "labels": torch.from_numpy(np.asarray(self.labels[idx], dtype=np.float32)),
        }


def _parts(folder: Path, name: str) -> list[Path]:
    if (folder / f"{name}.safetensors").exists():
        return [folder / f"{name}.safetensors"]
    # `val.<n>` only: the glob cannot reach `val_notags.<n>`, and a stray `val.old.safetensors` is not a part
    numbered = [p for p in folder.glob(f"{name}.*.safetensors") if p.name.split(".")[1].isdigit()]
    return sorted(numbered, key=lambda p: int(p.name.split(".")[1]))


def _load_split(folder: Path, name: str) -> Split | None:
    parts = _parts(folder, name)
    if not parts:
        return None
    loaded = [safetensors.read(p)[0] for p in parts]
    for field in FIELDS:
        for i, t in enumerate(loaded):
            if field not in t:
                raise ValueError(f"{parts[i]}: missing tensor {field!r}")
    fields = list(FIELDS)
    for field in OPTIONAL_FIELDS:
        present = [field in t for t in loaded]
        if any(present) and not all(present):
            raise ValueError(f"{parts[present.index(False)]}: missing tensor {field!r} that other parts of {name} carry")
        if all(present):
            fields.append(field)
    if len(loaded) == 1:
        return Split(**{f: loaded[0][f] for f in fields})
    return Split(**{f: np.concatenate([t[f] for t in loaded]) for f in fields})


def _load_text(folder: Path, name: str) -> dict[str, np.ndarray] | None:
    parts = _parts(folder, name)
    if not parts:
        return None
    loaded = [safetensors.read(p)[0] for p in parts]
    for i, t in enumerate(loaded):
        for field in TEXT_FIELDS:
            if field not in t:
                raise ValueError(f"{parts[i]}: missing tensor {field!r}")
    return {f: loaded[0][f] if len(loaded) == 1 else np.concatenate([t[f] for t in loaded]) for f in TEXT_FIELDS}


def _load_variant(folder: Path, name: str, base: Split | None) -> Split | None:
    """`<name>_notags`: the base split's posts with other texts. Shards that also carry labels are checked against
    the base (the same posts in the same order)."""
    text = _load_text(folder, f"{name}_notags")
    if text is None:
        return None
    if base is None:
        raise ValueError(f"{folder}: {name}_notags without a {name} split")
    if len(text["input_ids"]) != len(base):
        raise ValueError(f"{folder}: {name}_notags has {len(text['input_ids'])} posts, {name} has {len(base)}")
    full = _load_split(folder, f"{name}_notags") if _has_labels(folder, f"{name}_notags") else None
    if full is not None and not np.array_equal(np.asarray(full.labels), np.asarray(base.labels)):
        raise ValueError(f"{folder}: {name}_notags ({len(full)} posts) does not hold the posts of {name} "
                         f"({len(base)} posts) in the same order (labels differ)")
    return replace(base, input_ids=text["input_ids"], attention_mask=text["attention_mask"])


def _has_labels(folder: Path, name: str) -> bool:
    return "labels" in safetensors.read(_parts(folder, name)[0])[0]


@dataclass
class Dataset:
    meta: dict
    train: Split
    val: Split | None
    test: Split | None
    train_notags: Split | None = None
    val_notags: Split | None = None
    test_notags: Split | None = None

    @property
    def hashtags(self) -> list[str]:
        return list(self.meta["hashtags"])


def load(folder: str | Path) -> Dataset:
    folder = Path(folder)
    meta = json.loads((folder / "dataset.json").read_text())
    train = _load_split(folder, "train")
    if train is None:
        raise ValueError(f"{folder}: no train split (train.safetensors or train.<n>.safetensors)")
    if train.labels.shape[1] != len(meta["hashtags"]):
        raise ValueError(f"{folder}: labels have {train.labels.shape[1]} columns but dataset.json lists "
                         f"{len(meta['hashtags'])} hashtags")
    val, test = _load_split(folder, "val"), _load_split(folder, "test")
    return Dataset(meta, train, val, test, _load_variant(folder, "train", train), _load_variant(folder, "val", val),
                   _load_variant(folder, "test", test))
