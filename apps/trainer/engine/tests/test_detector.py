"""Detector tests: the public checkpoint's key set, strict import, shapes, padding, the selection rules, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from lxtag_engine.detect import detect, target_size
from lxtag_engine.export import export_detector
from lxtag_engine.frcnn import FasterRCNN, FrcnnConfig, build_detector, load_detector_weights
from lxtag_engine.selection import caffe_iou, select_caffe, select_demo

FIXTURE = Path(__file__).parent / "fixtures" / "frcnn_vg_finetuned_keys.tsv"


def fixture_shapes() -> dict[str, tuple[int, ...]]:
    rows = (line.split("\t") for line in FIXTURE.read_text().splitlines())
    return {name: tuple(int(x) for x in shape.split(",")) if shape else () for name, shape in rows}


def test_r101_has_exactly_the_checkpoint_keys_and_shapes() -> None:
    expected = fixture_shapes()
    state = FasterRCNN(FrcnnConfig.preset("r101")).state_dict()
    assert len(expected) == 640
    assert sorted(state) == sorted(expected)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    params = sum(v.numel() for k, v in state.items() if "num_batches_tracked" not in k)
    assert abs(params - 65.6e6) < 0.1e6  # reference B.1: about 65.6 M values in the 262 MB file


def test_import_loads_a_checkpoint_strictly_and_names_what_is_wrong(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(s, generator=g) if s else torch.tensor(0)) for k, s in fixture_shapes().items()}
    # the HF loader renames old gamma/beta names; so do we
    state["backbone.stem.conv1.norm.gamma"] = state.pop("backbone.stem.conv1.norm.weight")
    torch.save(state, tmp_path / "pytorch_model.bin")
    model = load_detector_weights(FrcnnConfig.preset("r101"), tmp_path / "pytorch_model.bin")
    assert torch.equal(model.roi_heads.box_predictor.bbox_pred.weight, state["roi_heads.box_predictor.bbox_pred.weight"])
    assert torch.equal(model.backbone.stem.conv1.norm.weight, state["backbone.stem.conv1.norm.gamma"])
    del state["roi_heads.res5.2.conv3.weight"]
    state["roi_heads.box_predictor.extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "broken.bin")
    with pytest.raises(ValueError, match=r"missing \[roi_heads.res5.2.conv3.weight\].*unexpected \[roi_heads.box_predictor.extra"):
        load_detector_weights(FrcnnConfig.preset("r101"), tmp_path / "broken.bin")


def test_stride_16_with_the_caffe_max_pool() -> None:
    model = build_detector(FrcnnConfig.preset("tiny"), seed=0)
    with torch.no_grad():
        res4, proposals, objectness = model.rpn_outputs(torch.zeros(2, 3, 600, 800))
    # 600x800 -> conv /2 300x400 -> ceil-mode pool 150x200 -> res3 75x100 -> res4 38x50 (floor pooling gives 37)
    assert res4.shape[0] == 2 and res4.shape[2:] == (38, 50)
    assert proposals.shape == (2, 38 * 50 * 12, 4) and objectness.shape == (2, 38 * 50 * 12)


def test_sizes_follow_resize_shortest_edge() -> None:
    assert target_size(480, 640, 600, 1000) == (600, 800)
    assert target_size(1000, 3000, 600, 1000) == (333, 1000)
    assert target_size(640, 480, 800, 1333) == (1067, 800)


def test_detect_pads_when_there_are_fewer_than_36_proposals() -> None:
    model = build_detector(FrcnnConfig.preset("tiny", post_nms_topk=20), seed=0)
    rgb = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    d = detect(model, rgb)
    assert d.num_real_boxes == 20
    assert d.features.shape == (36, 2048) and d.boxes.shape == (36, 4) and d.scores.shape == (36,)
    assert not d.features[20:].any() and not d.boxes[20:].any() and not d.scores[20:].any()
    assert (d.boxes[:20] >= 0).all() and (d.boxes[:20] <= 1).all() and (d.scores[:20] > 0).all()


def test_caffe_iou_counts_pixels_inclusively() -> None:
    boxes = np.array([[0, 0, 9, 9], [5, 0, 14, 9]], dtype=np.float32)  # 10x10 boxes sharing a 5x10 strip
    assert caffe_iou(boxes)[0, 1] == pytest.approx(50 / 150)


def test_caffe_selection_rules() -> None:
    c = FrcnnConfig.preset("tiny", num_boxes=2)
    # three disjoint boxes, two classes + background; box 1 wins class 0, box 2 class 1, box 0 is never above 0.2
    rois = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], dtype=torch.float32)
    probs = torch.tensor([[0.1, 0.1, 0.8], [0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    keep, boxes, conf = select_caffe(probs, rois, 2.0, 1.0, c)
    assert keep.tolist() == [1, 2]  # exactly num_boxes are confident: index order
    assert conf.tolist() == pytest.approx([0.7, 0.6])
    assert boxes[0].tolist() == [40, 20, 60, 30]  # proposal boxes scaled to the original image
    # overlapping boxes: per-class NMS suppresses box 1 in class 0, so its max_conf comes from class 1
    rois = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 11], [40, 40, 50, 50]], dtype=torch.float32)
    probs = torch.tensor([[0.5, 0.05, 0.45], [0.4, 0.3, 0.3], [0.1, 0.1, 0.8]])
    keep, _, conf = select_caffe(probs, rois, 1.0, 1.0, c)
    assert keep.tolist() == [0, 1] and conf.tolist() == pytest.approx([0.5, 0.3])


def test_demo_selection_retries_thresholds() -> None:
    c = FrcnnConfig.preset("tiny", num_boxes=2, demo_nms=[0.5, 0.9])
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2]])
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 12]], dtype=torch.float32)  # IoU 0.83
    keep, kept, _ = select_demo(probs, boxes, 100, 100, c)
    assert keep.tolist() == [0, 1]  # 0.5 leaves one box, 0.9 leaves two
    keep, _, _ = select_demo(probs, boxes, 100, 100, FrcnnConfig.preset("tiny", num_boxes=2, demo_nms=[0.5]))
    assert keep.tolist() == [0]  # no threshold gives 36: the last threshold's boxes, the rest is padding


def test_export_writes_two_graphs_and_a_manifest(tmp_path: Path) -> None:
    model = build_detector(FrcnnConfig.preset("tiny"), seed=0)
    manifest = export_detector(model, tmp_path, preset="tiny", weights="random")
    rpn = onnx.load(str(tmp_path / "rpn.onnx"))
    head = onnx.load(str(tmp_path / "head.onnx"))
    assert [i.name for i in rpn.graph.input] == ["image"]
    assert [o.name for o in rpn.graph.output] == ["res4", "proposals", "objectness"]
    assert [i.name for i in head.graph.input] == ["res4", "rois"]
    assert [o.name for o in head.graph.output] == ["features", "class_probs", "class_boxes"]
    assert "MaxRoiPool" in {n.op_type for n in head.graph.node}
    assert manifest["kind"] == "faster-rcnn" and manifest["feature_dim"] == 2048 and manifest["num_boxes"] == 36
    assert set(manifest["files"]) == {"rpn.onnx", "head.onnx"} and manifest["selection"]["mode"] == "caffe"
