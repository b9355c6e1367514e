"""Reading other people's checkpoints: the file, the old BERT parameter names, a strict load that names the keys."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint that does not fit; the message says what to change."""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a `torch.save` file, unwrapped from `{"state_dict": ...}` where it is saved that way."""
    state = torch.load(str(path), map_location="cpu")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    return state


def modern_name(key: str) -> str:
    """Old BERT/Caffe-era checkpoints call LayerNorm/BatchNorm parameters gamma and beta; HF's loaders rename them."""
    return re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", key))


def load_strictly(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """`load_state_dict(strict=True)`, with an error that lists missing, unexpected and wrongly shaped keys."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        raise CheckpointError(f"{source} does not match the model: missing [{few(missing)}], "
                              f"unexpected [{few(unexpected)}], wrong shape [{few(wrong)}]")
    module.load_state_dict(state, strict=True)
