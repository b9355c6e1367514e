"""Shards with `label_count` (every true hashtag of a post) and hashtag-free caption variants (`<split>_notags`):
loading, recall over every true hashtag, per-variant metrics in training and evaluation, and selection by them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import safetensors
from lxtag_engine import dataset as ds
from lxtag_engine.__main__ import main
from lxtag_engine.evaluate import evaluate, write_report
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.metrics import ranking_metrics
from lxtag_engine.train import TrainConfig, train

HASHTAGS = ["a", "b", "c"]


@pytest.fixture(autouse=True)
def few_threads() -> None:
    torch.set_num_threads(1)


def shard(ids: np.ndarray, labels: np.ndarray, label_count: np.ndarray | None) -> dict[str, np.ndarray]:
    n = ids.shape[0]
    tensors = {"input_ids": ids, "attention_mask": (ids > 0).astype(np.uint8), "labels": labels,
               "visual_feats": np.zeros((n, 36, 8), np.float16), "visual_pos": np.zeros((n, 36, 4), np.float32)}
    if label_count is not None:
        tensors["label_count"] = label_count
    return tensors


def write_dataset(folder: Path, n: int = 60, parts: bool = False) -> None:
    """Captions [CLS] #tag word [SEP]: the hashtag's own token gives the label away, the word only hints at it
    (70% of posts); `_notags` drops the hashtag token. Every post also has 0-2 hashtags outside the outputs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    tag = rng.integers(0, 3, n)
    word = np.where(rng.random(n) < 0.7, tag, rng.integers(0, 3, n))
    with_tags = np.stack([np.full(n, 2), 10 + tag, 20 + word, np.full(n, 3)], 1).astype(np.int32)
    without = np.stack([np.full(n, 2), 20 + word, np.full(n, 3), np.zeros(n)], 1).astype(np.int32)
    labels = np.eye(3, dtype=np.uint8)[tag]
    count = (1 + rng.integers(0, 3, n)).astype(np.int32)
    splits = {"train": slice(0, n - 30), "val": slice(n - 30, n - 15), "test": slice(n - 15, n)}
    for name, sl in splits.items():
        safetensors.write(folder / f"{name}.safetensors", shard(with_tags[sl], labels[sl], count[sl]))
        if name == "train":
            continue
        variant = shard(without[sl], labels[sl], None)  # label_count comes from the base split
        if parts:
            half = {k: (v[:7], v[7:]) for k, v in variant.items()}
            for i in range(2):
                safetensors.write(folder / f"{name}_notags.{i}.safetensors", {k: v[i] for k, v in half.items()})
        else:
            safetensors.write(folder / f"{name}_notags.safetensors", variant)
    (folder / "dataset.json").write_text(json.dumps({"id": "v", "hashtags": HASHTAGS, "detector": "d"}))


def test_recall_over_every_true_hashtag() -> None:
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.1]])
    labels = np.array([[1, 0, 0], [0, 0, 1]])
    m = ranking_metrics(scores, labels, label_count=np.array([3, 1], np.int32))
    assert m["1"]["recall"] == 0.5 and m["1"]["recall_all"] == 0.25  # one hit of 2 labelled, of 4 true
    p = m["1"]["precision"]
    assert m["1"]["f1_all"] == pytest.approx(2 * p * 0.25 / (p + 0.25))
    assert m["2"]["recall_all"] == 0.25 and m["3"]["recall_all"] == 0.5
    assert "recall_all" not in ranking_metrics(scores, labels)["1"]
    with pytest.raises(ValueError, match="label_count of post 0 is 0, below its 1 labelled"):
        ranking_metrics(scores, labels, label_count=np.array([0, 1]))


def test_variants_load_beside_their_splits(tmp_path: Path) -> None:
    write_dataset(tmp_path, parts=True)
    data = ds.load(tmp_path)
    assert data.val is not None and data.val_notags is not None and data.test_notags is not None
    assert len(data.val) == len(data.val_notags) == 15
    assert not np.array_equal(np.asarray(data.val.input_ids[:, 1]), np.asarray(data.val_notags.input_ids[:, 1]))
    assert data.train.label_count is not None and data.val_notags.label_count is data.val.label_count
    (tmp_path / "val.safetensors").rename(tmp_path / "elsewhere.safetensors")
    assert ds._load_split(tmp_path, "val") is None  # val_notags.<n> are not parts of val
    with pytest.raises(ValueError, match="val_notags without a val split"):
        ds.load(tmp_path)


def test_a_variant_of_other_posts_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    t, _ = safetensors.read(tmp_path / "test_notags.safetensors", mmap=False)
    safetensors.write(tmp_path / "test_notags.safetensors", {**t, "labels": np.roll(np.asarray(t["labels"]), 1, axis=0)})
    with pytest.raises(ValueError, match="does not hold the posts of test"):
        ds.load(tmp_path)


def test_label_count_in_some_parts_only_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    t, _ = safetensors.read(tmp_path / "train.safetensors", mmap=False)
    (tmp_path / "train.safetensors").unlink()
    safetensors.write(tmp_path / "train.0.safetensors", {k: np.asarray(v)[:10] for k, v in t.items()})
    safetensors.write(tmp_path / "train.1.safetensors", {k: np.asarray(v)[10:] for k, v in t.items() if k != "label_count"})
    with pytest.raises(ValueError, match="train.1.safetensors: missing tensor 'label_count'"):
        ds.load(tmp_path)


def config(**kw: object) -> TrainConfig:
    model = LxmertConfig.preset("tiny", vocab_size=30, visual_feat_dim=8).to_dict()
    return TrainConfig(**{**dict(architecture="linear", model=model, epochs=3, batch_size=10, lr=0.1), **kw})  # type: ignore[arg-type]


def test_training_reports_every_variant_and_selects_on_both(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    result = train(tmp_path, tmp_path / "out", config(select_on="both"), log=lambda _: None)
    assert set(result) == {"best_epoch", "val", "val_notags", "test", "test_notags"}
    assert "f1_all" in result["test"]["2"] and "recall_all" in result["val_notags"]["2"]
    # the hashtag token gives the label away; without it only the hinting word is left
    assert result["test"]["1"]["f1"] > result["test_notags"]["1"]["f1"]
    log = json.loads((tmp_path / "out" / "train_log.json").read_text())
    assert all({"val", "val_notags"} <= set(h) for h in log["history"])
    best = log["history"][log["best_epoch"] - 1]
    assert log["best_val_f1_at_2"] == pytest.approx((best["val"]["2"]["f1"] + best["val_notags"]["2"]["f1"]) / 2)


def test_selecting_on_a_missing_variant_is_a_value_error(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    for p in tmp_path.glob("*_notags.safetensors"):
        p.unlink()
    with pytest.raises(ValueError, match="needs a val_notags split"):
        train(tmp_path, tmp_path / "out", config(select_on="val_notags"), log=lambda _: None)
    with pytest.raises(ValueError, match="unknown select_on"):
        config(select_on="test")


def test_evaluate_nests_the_variant_and_plots_it_dashed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_dataset(tmp_path / "data")
    train(tmp_path / "data", tmp_path / "out", config(epochs=1), log=lambda _: None)
    results = evaluate(tmp_path / "data", {"linear": tmp_path / "out" / "checkpoint.pt"}, "test")
    assert set(results["linear"]) == {"architecture", "metrics", "notags"}
    assert "f1_all" in results["linear"]["notags"]["metrics"]["2"]
    assert set(results["tfidf-knn"]) == {"architecture", "metrics", "notags"}  # the baseline, on both variants
    write_report(results, tmp_path / "report", "test")
    svg = (tmp_path / "report" / "evaluation.svg").read_text()
    assert svg.count("<polyline") == 2 * 4 * 2 and svg.count("stroke-dasharray") == 2 * 4
    main(["evaluate", "--data", str(tmp_path / "data"), "--model", f"linear={tmp_path / 'out' / 'checkpoint.pt'}",
          "--out", str(tmp_path / "cli")])
    printed = capsys.readouterr().out
    assert "no hashtags" in printed and "F1_all@2" in printed
    with pytest.raises(ValueError, match="unknown split 'meta'"):
        evaluate(tmp_path / "data", {}, "meta")


def test_text_only_variants_take_the_rest_from_their_split_and_train_with_masking(tmp_path: Path) -> None:
    """The trainer writes `<split>_notags` with only the text tensors; training reads a share of rows from it."""
    _write_text_only_dataset(tmp_path)
    data = ds.load(tmp_path)
    assert data.train_notags is not None and data.val_notags is not None
    assert np.array_equal(np.asarray(data.train_notags.labels), np.asarray(data.train.labels))
    assert np.array_equal(np.asarray(data.train_notags.input_ids), safetensors.read(tmp_path / "train_notags.safetensors")[0]["input_ids"])
    # every row from the variant: its (all-[UNK]) text, the split's features
    b = data.train.batch(np.arange(4), data.train_notags, np.ones(4, dtype=bool))
    assert (b["input_ids"][:, 1] == 1).all()
    assert torch.equal(b["visual_feats"], data.train.batch(np.arange(4))["visual_feats"])
    cfg = TrainConfig(architecture="linear", model={"vocab_size": 12}, epochs=2, batch_size=4, lr=0.05,
                      mask_share=0.5, select_on="both")
    result = train(tmp_path, tmp_path / "out", cfg, log=lambda _: None)
    assert "val_notags" in result and result["best_epoch"] >= 1


def _write_text_only_dataset(folder: Path) -> None:
    rng = np.random.default_rng(0)
    for name, n in (("train", 12), ("val", 4)):
        ids = rng.integers(5, 12, (n, 6)).astype(np.int32)
        ids[:, 0] = 2
        safetensors.write(folder / f"{name}.safetensors", {
            "input_ids": ids, "attention_mask": np.ones((n, 6), np.uint8),
            "visual_feats": rng.normal(size=(n, 36, 8)).astype(np.float16),
            "visual_pos": rng.random((n, 36, 4)).astype(np.float32),
            "labels": (rng.random((n, 3)) < 0.5).astype(np.uint8),
        })
        unk = np.ones((n, 6), np.int32)
        unk[:, 0] = 2
        safetensors.write(folder / f"{name}_notags.safetensors", {"input_ids": unk, "attention_mask": np.ones((n, 6), np.uint8)})
    (folder / "dataset.json").write_text('{"id": "text-only-variants", "hashtags": ["a", "b", "c"]}')
