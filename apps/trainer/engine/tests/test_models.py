"""Every architecture shares the contract: same inputs, logits (B, H), pooled (B, D), ONNX with dynamic B and L;
the synthetic dataset and the evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from lxtag_engine import safetensors, synthetic
from lxtag_engine.evaluate import evaluate, write_report
from lxtag_engine.export import export_model
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.models import ARCHITECTURES, build_model, save_checkpoint


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_contract_and_export(arch: str, tmp_path: Path) -> None:
    c = LxmertConfig.preset("tiny", vocab_size=60)
    model = build_model(arch, c.to_dict(), 9).eval()
    for b, t in ((1, 4), (3, 11)):
        logits, pooled = model(torch.randint(5, 60, (b, t)), torch.ones(b, t, dtype=torch.int64),
                               torch.zeros(b, t, dtype=torch.int64), torch.rand(b, 36, 2048), torch.rand(b, 36, 4))
        assert logits.shape == (b, 9) and pooled.shape[0] == b
    export_model(model, tmp_path, architecture=arch, config=c.to_dict(), hashtags=[str(i) for i in range(9)], detector="d")
    dims = [d.dim_param or d.dim_value for d in onnx.load(str(tmp_path / "model.onnx")).graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 9]


def test_synthetic_kinds_and_labels(tmp_path: Path) -> None:
    meta = synthetic.write(tmp_path, 200, seed=1)
    assert sorted(set(meta["kinds"].values())) == ["relation", "text", "visual"]
    t, _ = safetensors.read(tmp_path / "train.safetensors")
    assert t["labels"].shape == (meta["splits"]["train"], len(meta["hashtags"]))
    assert 0.05 < float(np.asarray(t["labels"]).mean()) < 0.5
    # exactly one anchor box per post
    anchors = (np.asarray(t["visual_pos"]) == synthetic.ANCHOR_BOX).all(-1).sum(-1)
    assert (anchors == 1).all()
    labels, ids = np.asarray(t["labels"]), np.asarray(t["input_ids"])
    columns = {kind: [i for i, h in enumerate(meta["hashtags"]) if meta["kinds"][h] == kind] for kind in ("visual", "text", "relation")}
    for cols in columns.values():
        assert labels[:, cols].sum(1).max() <= 1  # at most one tag of each kind per post
    relation = labels[:, columns["relation"]]
    assert 0.45 < relation.sum(1).mean() < 0.75  # the anchor shows a named colour 60% of the time
    colour_words = synthetic.SPECIAL + len(columns["text"])
    for row, colour in zip(*np.nonzero(relation)):
        assert colour_words + colour in ids[row]  # a relation tag only for a colour the caption names


def test_evaluation_report(tmp_path: Path) -> None:
    meta = synthetic.write(tmp_path / "data", 120, seed=2)
    c = LxmertConfig.preset("tiny", vocab_size=meta["vocab_size"]).to_dict()
    ckpts = {}
    for arch in ("popularity", "concat"):
        ckpts[arch] = tmp_path / f"{arch}.pt"
        save_checkpoint(ckpts[arch], build_model(arch, c, len(meta["hashtags"])), arch, c, meta["hashtags"])
    results = evaluate(tmp_path / "data", ckpts)
    write_report(results, tmp_path / "report", "test")
    saved = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert set(saved) == {"popularity", "concat", "tfidf-knn"}  # the caption baseline is always scored beside
    assert saved["tfidf-knn"]["architecture"] == "tfidf-knn"
    assert set(saved["concat"]["metrics"]) == {"1", "2", "3", "4", "5"}
    assert set(saved["concat"]["f1_by_kind"]) == {"relation", "text", "visual"}
    svg = (tmp_path / "report" / "evaluation.svg").read_text()
    solid = svg.count("<polyline") - svg.count("stroke-dasharray")  # dashed: the test_notags captions, if any
    assert solid == 4 * 3  # four panels, two models and the tfidf-knn baseline
