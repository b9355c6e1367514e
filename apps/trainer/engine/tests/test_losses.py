"""The softmax loss: what it computes, that posts without labels are left out, and that `train --loss softmax`
runs end to end (checkpoint, metrics, and the loss in the checkpoint and the manifest)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import safetensors
from lxtag_engine.__main__ import main
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.train import TrainConfig, softmax_loss, train

FEATURE_DIM = 8  # small region features keep these runs to seconds


@pytest.fixture(autouse=True)
def few_threads() -> None:
    torch.set_num_threads(1)


def write_skewed_dataset(folder: Path, n: int = 96, seed: int = 0) -> None:
    """Four hashtags with skewed frequencies (one on most posts, one rare), a token per hashtag in the caption,
    and some posts with no label at all."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 4)) < np.array([0.8, 0.3, 0.1, 0.05])).astype(np.uint8)
    labels[:8] = 0
    ids = np.zeros((n, 8), np.int32)
    ids[:, 0], ids[:, 1:5] = 2, np.where(labels == 1, 10 + np.arange(4), 5 + rng.integers(0, 4, (n, 4)))
    ids[:, 5] = 3
    mask = (ids > 0).astype(np.uint8)
    for name, sl in (("train", slice(0, n - 32)), ("val", slice(n - 32, n - 16)), ("test", slice(n - 16, n))):
        m = sl.stop - sl.start
        safetensors.write(folder / f"{name}.safetensors", {
            "input_ids": ids[sl], "attention_mask": mask[sl], "labels": labels[sl],
            "visual_feats": rng.random((m, 36, FEATURE_DIM)).astype(np.float16),
            "visual_pos": np.zeros((m, 36, 4), np.float32)})
    (folder / "dataset.json").write_text(json.dumps({"id": "skewed", "hashtags": ["common", "some", "few", "rare"],
                                                     "detector": "d", "splits": {"train": n - 32, "val": 16, "test": 16}}))


def tiny_model() -> dict:
    return LxmertConfig.preset("tiny", vocab_size=20, visual_feat_dim=FEATURE_DIM).to_dict()


def test_softmax_loss_is_cross_entropy_against_the_normalised_labels() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [1.0, 2.0, 3.0]])
    labels = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    log_p = torch.log_softmax(logits, dim=1)
    expected = (-(0.5 * log_p[0, 0] + 0.5 * log_p[0, 1]) - log_p[2, 2]) / 2  # the unlabelled row is left out
    assert torch.allclose(softmax_loss(logits, labels), expected)


def test_softmax_loss_of_a_batch_without_labels_is_zero_and_backpropagates() -> None:
    logits = torch.randn(3, 4, requires_grad=True)
    loss = softmax_loss(logits, torch.zeros(3, 4))
    loss.backward()
    assert float(loss) == 0.0 and logits.grad is not None and torch.equal(logits.grad, torch.zeros(3, 4))


def test_unknown_loss_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        TrainConfig(loss="hinge")


@pytest.mark.parametrize("arch", ["linear", "text-only"])
def test_softmax_training_on_skewed_labels_has_finite_loss(arch: str, tmp_path: Path) -> None:
    write_skewed_dataset(tmp_path)
    cfg = TrainConfig(architecture=arch, model=tiny_model(), epochs=4, batch_size=8, lr=5e-2 if arch == "linear" else 1e-3,
                      patience=10, loss="softmax")
    result = train(tmp_path, tmp_path / "out", cfg, log=lambda _: None)
    history = json.loads((tmp_path / "out" / "train_log.json").read_text())["history"]
    assert len(history) == 4 and all(math.isfinite(h["loss"]) for h in history)
    assert history[-1]["loss"] < history[0]["loss"]
    assert 0 <= result["test"]["2"]["f1"] <= 1


def test_train_command_with_softmax_writes_checkpoint_metrics_and_bundle(tmp_path: Path) -> None:
    write_skewed_dataset(tmp_path / "data")
    out = tmp_path / "out"
    main(["train", "--data", str(tmp_path / "data"), "--out", str(out), "--arch", "linear", "--preset", "tiny",
          "--config", json.dumps({"vocab_size": 20, "visual_feat_dim": FEATURE_DIM}), "--epochs", "2",
          "--batch-size", "16", "--lr", "0.05", "--loss", "softmax"])
    ckpt = torch.load(out / "checkpoint.pt", map_location="cpu")
    assert ckpt["training"] == {"loss": "softmax", "select_on": "val", "mask_share": 0.0} and ckpt["train_config"]["loss"] == "softmax"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"best_epoch", "val", "test"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"] == {"loss": "softmax", "select_on": "val", "mask_share": 0.0}
    assert manifest["architecture"] == "linear" and set(manifest["metrics"]) == {"val", "test"}
    main(["export", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(tmp_path / "again")])
    assert json.loads((tmp_path / "again" / "manifest.json").read_text())["training"]["loss"] == "softmax"
