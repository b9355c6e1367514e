"""ONNX export of models and detectors, with their bundle manifests (CONTRACTS.md 3 and 4)."""

from __future__ import annotations

import hashlib
import inspect
import json
from datetime import datetime, timezone
from pathlib import Path

import onnx
import torch
from torch import nn

from .grid_detector import GridDetector

OPSET = 14
MODEL_INPUTS = ["input_ids", "attention_mask", "token_type_ids", "visual_feats", "visual_pos"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _onnx_export(model: nn.Module, args: tuple, path: Path, **kwargs: object) -> None:
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch >= 2.9 defaults to the dynamo exporter; keep the TorchScript one
    torch.onnx.export(model, args, str(path), opset_version=OPSET, do_constant_folding=True, **kwargs)
    onnx.checker.check_model(onnx.load(str(path)))


def example_inputs(model: nn.Module, batch: int = 2, length: int = 12, boxes: int = 36) -> tuple[torch.Tensor, ...]:
    feat_dim = model.config.visual_feat_dim  # type: ignore[union-attr]
    vocab = model.config.vocab_size  # type: ignore[union-attr]
    ids = torch.randint(min(5, vocab - 1), vocab, (batch, length), dtype=torch.int64)
    mask = torch.ones(batch, length, dtype=torch.int64)
    return ids, mask, torch.zeros_like(ids), torch.rand(batch, boxes, feat_dim), torch.rand(batch, boxes, 4)


def export_model(model: nn.Module, out: Path, *, architecture: str, config: dict, hashtags: list[str],
                 detector: str, max_length: int = 128, metrics: dict | None = None, dataset: dict | None = None,
                 model_id: str | None = None) -> dict:
    """Writes `model.onnx` (dynamic B and L) and `manifest.json` into `out`; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    dynamic = {name: {0: "batch", 1: "length"} for name in MODEL_INPUTS[:3]}
    dynamic.update({"visual_feats": {0: "batch"}, "visual_pos": {0: "batch"}, "logits": {0: "batch"},
                    "pooled": {0: "batch"}})
    with torch.no_grad():
        _onnx_export(model, example_inputs(model), out / "model.onnx", input_names=MODEL_INPUTS,
                     output_names=["logits", "pooled"], dynamic_axes=dynamic)
    created = datetime.now(timezone.utc)
    manifest = {
        "format": "lxtag-model/1",
        "id": model_id or f"{architecture}-{created.strftime('%Y%m%dT%H%M%S')}-{sha256_file(out / 'model.onnx')[:8]}",
        "architecture": architecture,
        "config": config,
        "hashtags": hashtags,
        "max_length": max_length,
        "detector": detector,
        "metrics": metrics or {},
        "dataset": dataset or {},
        "created_at": created.isoformat(),
        "files": {"model.onnx": sha256_file(out / "model.onnx")},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def export_grid_detector(detector: GridDetector, out: Path, detector_id: str | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    detector.eval()
    with torch.no_grad():
        _onnx_export(detector, (torch.rand(1, 3, 600, 800) * 255 - 128,), out / "detector.onnx",
                     input_names=["image"], output_names=["boxes", "scores", "features"],
                     dynamic_axes={"image": {2: "height", 3: "width"}})
    digest = sha256_file(out / "detector.onnx")
    manifest = {
        "format": "lxtag-detector/1",
        "id": detector_id or f"grid6-{digest[:8]}",
        "kind": "placeholder-grid",
        "input": detector.manifest_input(),
        "num_boxes": detector.config.grid ** 2,
        "feature_dim": detector.config.feature_dim,
        "graph": "detector.onnx",
        "config": detector.to_dict(),
        "files": {"detector.onnx": digest},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
