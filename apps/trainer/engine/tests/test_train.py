"""The training loop on a tiny synthetic dataset: it learns, resumes, and refuses to resume a different run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import safetensors
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.models import build_model, save_checkpoint
from lxtag_engine.train import TrainConfig, train, warm_start


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


def test_warm_start_moves_head_rows_with_their_hashtags(tmp_path: Path) -> None:
    c = LxmertConfig.preset("tiny", vocab_size=20).to_dict()
    old = build_model("lxmert4hashtag", c, 3)
    save_checkpoint(tmp_path / "old.pt", old, "lxmert4hashtag", c, ["sunset", "dog", "food"])
    new = build_model("lxmert4hashtag", c, 4)
    fresh_row = new.answer_head.logit_fc[3].weight[1].clone()
    line = warm_start(new, ["food", "latteart", "sunset", "dog"], tmp_path / "old.pt")
    w_old, w_new = old.answer_head.logit_fc[3].weight, new.answer_head.logit_fc[3].weight
    assert torch.equal(w_new[0], w_old[2]) and torch.equal(w_new[2], w_old[0]) and torch.equal(w_new[3], w_old[1])
    assert torch.equal(w_new[1], fresh_row)  # the new hashtag keeps its initialisation
    assert torch.equal(new.answer_head.logit_fc[3].bias[0], old.answer_head.logit_fc[3].bias[2])
    assert torch.equal(new.lxmert.pooler.dense.weight, old.lxmert.pooler.dense.weight)
    assert "3 of 4 hashtags carried over, 1 new" in line
    with pytest.raises(ValueError, match="not text-only|is a lxmert4hashtag model"):
        warm_start(build_model("text-only", c, 4), ["a", "b", "c", "d"], tmp_path / "old.pt")
