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

from .frcnn import CAFFE_BGR_MEAN, FasterRCNN, clip_boxes, with_image_index

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
                 model_id: str | None = None, extra_files: dict[str, bytes] | None = None,
                 training: dict | None = None) -> dict:
    """Writes `model.onnx` (dynamic B and L), any `extra_files` (an imported tokenizer.json) and `manifest.json`
    into `out`; returns the manifest. `training` ({"loss": "bce" | "softmax", ...}) becomes the manifest's optional
    top-level key of that name (the contracts' schema is not strict, so readers that do not know it pass it by)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, content in (extra_files or {}).items():
        (out / name).write_bytes(content)
    model.eval()
    dynamic = {name: {0: "batch", 1: "length"} for name in MODEL_INPUTS[:3]}
    dynamic.update({"visual_feats": {0: "batch"}, "visual_pos": {0: "batch"}, "logits": {0: "batch"},
                    "pooled": {0: "batch"}})
    with torch.no_grad():
        _onnx_export(_EveryInput(model).eval(), example_inputs(model), out / "model.onnx", input_names=MODEL_INPUTS,
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
        "files": {name: sha256_file(out / name) for name in ["model.onnx", *(extra_files or {})]},
    }
    if training is not None:
        manifest["training"] = training
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def export_detector(model: FasterRCNN, out: Path, *, preset: str, weights: str, detector_id: str | None = None) -> dict:
    """Writes the detector's two graphs and `manifest.json` (CONTRACTS.md 3) into `out`; returns the manifest.

    `rpn.onnx`: image (N, 3, H, W) -> res4, proposals, objectness. `head.onnx`: res4, rois (R, 5) -> features,
    class_probs, class_boxes. Proposal and 36-box selection run in TypeScript between and after them."""
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    c = model.config
    image = torch.rand(1, 3, 96, 128) * 255 - 128
    with torch.no_grad():
        res4, proposals, _ = model.rpn_outputs(image)
        _onnx_export(_Graph(model.rpn_outputs), (image,), out / "rpn.onnx", input_names=["image"],
                     output_names=["res4", "proposals", "objectness"],
                     dynamic_axes={"image": {0: "images", 2: "height", 3: "width"},
                                   "res4": {0: "images", 2: "h", 3: "w"}, "proposals": {0: "images", 1: "anchors"},
                                   "objectness": {0: "images", 1: "anchors"}})
        rois = with_image_index(clip_boxes(proposals[0, :5], 96, 128))
        _onnx_export(_Graph(model.head_outputs), (res4, rois), out / "head.onnx", input_names=["res4", "rois"],
                     output_names=["features", "class_probs", "class_boxes"],
                     dynamic_axes={"res4": {0: "images", 2: "h", 3: "w"}, "rois": {0: "rois"}, "features": {0: "rois"},
                                   "class_probs": {0: "rois"}, "class_boxes": {0: "rois"}})
    files = {name: sha256_file(out / name) for name in ("rpn.onnx", "head.onnx")}
    digest = hashlib.sha256("".join(files.values()).encode()).hexdigest()
    manifest = {
        "format": "lxtag-detector/1",
        "id": detector_id or f"frcnn-{preset}-{c.selection}-{digest[:8]}",
        "kind": "faster-rcnn",
        "weights": weights,
        "input": {"color": "BGR", "pixel_mean": CAFFE_BGR_MEAN, "pixel_std": [1.0, 1.0, 1.0],
                  "min_size": c.min_size, "max_size": c.max_size},
        "num_boxes": c.num_boxes,
        "feature_dim": c.res5_out,
        "graphs": {"rpn": "rpn.onnx", "head": "head.onnx"},
        "selection": {"mode": c.selection, "pre_nms_topk": c.pre_nms_topk, "post_nms_topk": c.post_nms_topk,
                      "rpn_nms": c.rpn_nms, "rpn_min_size": c.rpn_min_size, "caffe_nms": c.caffe_nms,
                      "caffe_conf": c.caffe_conf, "demo_nms": c.demo_nms},
        "config": c.to_dict(),
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


class _EveryInput(nn.Module):
    """The model with a zero term from each of the five inputs added to its logits: the exporter drops inputs a
    graph never reads (the baselines ignore the image or the caption), and the predict worker refuses a model
    without all five."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = model.config  # type: ignore[union-attr]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, pooled = self.model(input_ids, attention_mask, token_type_ids, visual_feats, visual_pos)
        # a scalar, so the graph still knows logits are (B, H)
        text = (input_ids[:, :1] + attention_mask[:, :1] + token_type_ids[:, :1]).sum().to(logits.dtype)  # ()
        zero = (text + visual_feats[:, 0, :1].sum() + visual_pos[:, 0, :1].sum()) * 0  # ()
        return logits + zero, pooled


class _Graph(nn.Module):
    """Exports one method of a module as a graph."""

    def __init__(self, fn: object) -> None:
        super().__init__()
        self.fn = fn
        self.owner = fn.__self__  # type: ignore[attr-defined]  # registers the parameters

    def forward(self, *args: torch.Tensor) -> object:
        return self.fn(*args)  # type: ignore[operator]
