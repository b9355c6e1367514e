"""Training shards (CONTRACTS.md 5), memory-mapped; a split may be one file or numbered parts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import safetensors

FIELDS = ("input_ids", "attention_mask", "visual_feats", "visual_pos", "labels")


@dataclass
class Split:
    input_ids: np.ndarray  # (N, L) int32
    attention_mask: np.ndarray  # (N, L) uint8
    visual_feats: np.ndarray  # (N, 36, 2048) float16
    visual_pos: np.ndarray  # (N, 36, 4) float32
    labels: np.ndarray  # (N, H) uint8

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def batch(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        idx = np.sort(idx)  # sequential reads from the memory map
        mask = torch.from_numpy(np.asarray(self.attention_mask[idx], dtype=np.int64))
        length = max(int(mask.sum(dim=1).max()), 2)  # trim padding shared by the whole batch
        return {
            "input_ids": torch.from_numpy(np.asarray(self.input_ids[idx, :length], dtype=np.int64)),
            "attention_mask": mask[:, :length],
            "token_type_ids": torch.zeros((len(idx), length), dtype=torch.int64),
            "visual_feats": torch.from_numpy(np.asarray(self.visual_feats[idx], dtype=np.float32)),
            "visual_pos": torch.from_numpy(np.asarray(self.visual_pos[idx], dtype=np.float32)),
            "labels": torch.from_numpy(np.asarray(self.labels[idx], dtype=np.float32)),
        }


def _load_split(folder: Path, name: str) -> Split | None:
    parts = sorted(folder.glob(f"{name}.*.safetensors"), key=lambda p: int(p.name.split(".")[1]))
    if (folder / f"{name}.safetensors").exists():
        parts = [folder / f"{name}.safetensors"]
    if not parts:
        return None
    loaded = [safetensors.read(p)[0] for p in parts]
    for field in FIELDS:
        for i, t in enumerate(loaded):
            if field not in t:
                raise ValueError(f"{parts[i]}: missing tensor {field!r}")
    if len(loaded) == 1:
        return Split(**{f: loaded[0][f] for f in FIELDS})
    return Split(**{f: np.concatenate([t[f] for t in loaded]) for f in FIELDS})


@dataclass
class Dataset:
    meta: dict
    train: Split
    val: Split | None
    test: Split | None

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
    return Dataset(meta, train, _load_split(folder, "val"), _load_split(folder, "test"))
