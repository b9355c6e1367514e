"""Engine tests: shapes and masks, export round trip, metrics (the HF key set is in test_import.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx
import torch

from lxtag_engine import safetensors
from lxtag_engine.export import export_model
from lxtag_engine.lxmert import Lxmert4Hashtag, LxmertConfig
from lxtag_engine.metrics import ranking_metrics


def inputs(c: LxmertConfig, b: int = 3, t: int = 7):
    ids = torch.randint(5, c.vocab_size, (b, t))
    mask = torch.ones(b, t, dtype=torch.int64)
    mask[1, 4:] = 0
    return ids * mask, mask, torch.zeros_like(ids), torch.rand(b, 36, c.visual_feat_dim), torch.rand(b, 36, 4)


def test_tiny_shapes_and_padding_invariance() -> None:
    c = LxmertConfig.preset("tiny", vocab_size=100)
    model = Lxmert4Hashtag(c, num_hashtags=11).eval()
    ids, mask, types, feats, pos = inputs(c)
    logits, pooled = model(ids, mask, types, feats, pos)
    assert logits.shape == (3, 11) and pooled.shape == (3, c.hidden_size)
    # padded positions must not change a row's output
    longer = torch.cat([ids, torch.zeros(3, 5, dtype=torch.int64)], 1)
    longer_mask = torch.cat([mask, torch.zeros(3, 5, dtype=torch.int64)], 1)
    logits2, _ = model(longer, longer_mask, torch.zeros_like(longer), feats, pos)
    assert torch.allclose(logits, logits2, atol=1e-5)


def test_export_round_trip_and_manifest(tmp_path: Path) -> None:
    c = LxmertConfig.preset("tiny", vocab_size=100)
    model = Lxmert4Hashtag(c, num_hashtags=5)
    tokenizer = b'{"model": "wordpiece"}'
    metrics, dataset = {"val": {"2": {"f1": 0.5}}}, {"id": "ds1", "train": 10, "val": 2, "test": 3}
    before = datetime.now(timezone.utc)
    manifest = export_model(model, tmp_path, architecture="lxmert4hashtag", config=c.to_dict(),
                            hashtags=list("abcde"), detector="d", max_length=64, metrics=metrics, dataset=dataset,
                            model_id="m1", extra_files={"tokenizer.json": tokenizer})
    graph = onnx.load(str(tmp_path / "model.onnx"))
    assert [i.name for i in graph.graph.input] == ["input_ids", "attention_mask", "token_type_ids", "visual_feats", "visual_pos"]
    assert [o.name for o in graph.graph.output] == ["logits", "pooled"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest  # what is returned is what is written
    # the digests a bundle is verified by are those of the bytes on disk
    assert (tmp_path / "tokenizer.json").read_bytes() == tokenizer
    assert manifest.pop("files") == {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
                                     for name in ("model.onnx", "tokenizer.json")}
    created = datetime.fromisoformat(manifest.pop("created_at"))
    assert before <= created <= datetime.now(timezone.utc)
    assert manifest == {"format": "lxtag-model/1", "id": "m1", "architecture": "lxmert4hashtag",
                        "config": c.to_dict(), "hashtags": ["a", "b", "c", "d", "e"], "max_length": 64,
                        "detector": "d", "metrics": metrics, "dataset": dataset}
    # without an id: architecture, creation time and the graph's digest
    other = export_model(model, tmp_path / "b", architecture="lxmert4hashtag", config=c.to_dict(), hashtags=["a"] * 5,
                         detector="d")
    stamp = datetime.fromisoformat(other["created_at"]).strftime("%Y%m%dT%H%M%S")
    digest = hashlib.sha256((tmp_path / "b" / "model.onnx").read_bytes()).hexdigest()
    assert other["id"] == f"lxmert4hashtag-{stamp}-{digest[:8]}"
    assert other["files"] == {"model.onnx": digest} and other["metrics"] == other["dataset"] == {}
    assert other["max_length"] == 128


def test_safetensors_round_trip(tmp_path: Path) -> None:
    a = np.arange(12, dtype=np.float16).reshape(3, 4)
    safetensors.write(tmp_path / "x.safetensors", {"a": a, "b": np.ones(3, dtype=np.uint8)}, {"k": "v"})
    t, meta = safetensors.read(tmp_path / "x.safetensors")
    assert meta == {"k": "v"} and np.array_equal(t["a"], a) and t["b"].dtype == np.uint8


def test_metrics_match_hand_computation() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.1, 0.2, 0.9]])
    labels = np.array([[1, 0, 1], [0, 0, 0]])
    m = ranking_metrics(scores, labels)
    assert m["1"]["precision"] == 0.5 and m["1"]["recall"] == 0.5 and m["1"]["accuracy"] == 0.5
    assert m["2"]["precision"] == 0.25
