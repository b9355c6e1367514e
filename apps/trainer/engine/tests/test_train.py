"""The training loop on a tiny synthetic dataset: it learns, resumes, and refuses to resume a different run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lxtag_engine import safetensors
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.train import TrainConfig, train


def write_dataset(folder: Path, n: int = 128, seed: int = 0) -> None:
    """Two labels per post: one set by a text token (word-a / word-b), one by the visual features (bright / dark)."""
    rng = np.random.default_rng(seed)
    word = rng.integers(0, 2, n)
    bright = rng.integers(0, 2, n)
    ids = np.stack([np.full(n, 2), 10 + word, np.full(n, 3)], 1).astype(np.int32)
    feats = rng.random((n, 36, 2048)).astype(np.float32) * 0.1
    feats[:, :, :1024] += bright[:, None, None]  # bright images light up one half of the features, dark the other
    feats[:, :, 1024:] += 1 - bright[:, None, None]
    feats = feats.astype(np.float16)
    labels = np.stack([word, 1 - word, bright, 1 - bright], 1).astype(np.uint8)
    for name, sl in (("train", slice(0, n - 32)), ("val", slice(n - 32, n))):
        safetensors.write(folder / f"{name}.safetensors", {
            "input_ids": ids[sl], "attention_mask": np.ones_like(ids[sl], dtype=np.uint8), "visual_feats": feats[sl],
            "visual_pos": np.zeros((ids[sl].shape[0], 36, 4), np.float32), "labels": labels[sl]})
    (folder / "dataset.json").write_text(json.dumps({"id": "t", "hashtags": ["word-a", "word-b", "bright", "dark"], "detector": "d"}))


def config(**kw: object) -> TrainConfig:
    args: dict = dict(model=LxmertConfig.preset("tiny", vocab_size=20).to_dict(), epochs=15, batch_size=16, lr=1e-3,
                      patience=15)
    return TrainConfig(**{**args, **kw})


def test_learns_text_and_visual_labels(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    result = train(tmp_path, tmp_path / "out", config(), log=lambda _: None)
    assert result["val"]["2"]["precision"] >= 0.9  # both the text label and the visual label in the top 2
    assert (tmp_path / "out" / "checkpoint.pt").exists()


def test_resume_needs_the_same_run(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    out = tmp_path / "out"
    first = train(tmp_path, out, config(epochs=2), log=lambda _: None)
    lines: list[str] = []
    again = train(tmp_path, out, config(epochs=2), log=lines.append)  # a finished run resumes past its end
    assert "resuming at epoch 3" in lines and again["val"] == first["val"]
    with pytest.raises(ValueError, match="another configuration"):
        train(tmp_path, out, config(epochs=2, lr=1e-4), log=lambda _: None)
