"""Every architecture lxtag can train, behind one constructor; all share the model contract (CONTRACTS.md 4)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .baselines import Concat, Popularity, TextOnly, TfidfLinear
from .dataset import Split
from .lxmert import Lxmert4Hashtag, LxmertConfig

MODELS: dict[str, type[nn.Module]] = {m.architecture: m for m in (Lxmert4Hashtag, Popularity, TextOnly, Concat, TfidfLinear)}  # type: ignore[attr-defined]
ARCHITECTURES = tuple(MODELS)


def build_model(architecture: str, config: dict, num_hashtags: int) -> nn.Module:
    if architecture not in MODELS:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
    return MODELS[architecture](LxmertConfig(**config), num_hashtags)


def fit_data(model: nn.Module, train: Split) -> bool:
    """Runs the model's data-dependent initialisation (`fit_data`, e.g. the linear model's idf) when it has one."""
    fit = getattr(model, "fit_data", None)
    if fit is None:
        return False
    fit(train)
    return True


def save_checkpoint(path: Path, model: nn.Module, architecture: str, config: dict, hashtags: list[str],
                    extra: dict | None = None) -> None:
    # the checkpoint carries its own arguments so export rebuilds the exact model
    torch.save({"architecture": architecture, "config": config, "hashtags": hashtags,
                "state_dict": model.state_dict(), **(extra or {})}, path)


def load_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    ckpt = torch.load(path, map_location="cpu")
    model = build_model(ckpt["architecture"], ckpt["config"], len(ckpt["hashtags"]))
    model.load_state_dict(ckpt["state_dict"], strict=True)
    model.eval()
    return model, ckpt


def training_of(ckpt: dict) -> dict | None:
    """How a checkpoint's model was trained ({"loss", "select_on", "mask_share"}); checkpoints from before the loss option were
    trained with BCE; imported and random ones were not trained here (None)."""
    if "training" in ckpt:
        return ckpt["training"]
    if "train_config" in ckpt:
        cfg = ckpt["train_config"]
        return {"loss": cfg.get("loss", "bce"), "select_on": cfg.get("select_on", "val"),
                "mask_share": cfg.get("mask_share", 0.0)}
    return None
