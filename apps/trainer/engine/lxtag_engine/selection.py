"""The data-dependent steps of the detector, kept out of the ONNX graphs (reference B.2, B.3, B.6).

This is the PyTorch/numpy reference; the feature worker's `frcnn-selection.ts` does the same steps and the parity
test holds the two together. Box arithmetic is float32 as in torchvision's and Caffe's kernels.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import nms

from .frcnn import FrcnnConfig, clip_boxes


def select_proposals(proposals: torch.Tensor, objectness: torch.Tensor, height: int, width: int,
                     c: FrcnnConfig) -> torch.Tensor:
    """find_top_rpn_proposals for one image and one level: top-k by logit, clip, drop empty, NMS, keep top-k."""
    order = torch.sort(objectness, descending=True, stable=True).indices[: c.pre_nms_topk]
    boxes = clip_boxes(proposals[order], height, width)
    scores = objectness[order]
    keep = ((boxes[:, 2] - boxes[:, 0]) > c.rpn_min_size) & ((boxes[:, 3] - boxes[:, 1]) > c.rpn_min_size)
    boxes, scores = boxes[keep], scores[keep]
    return boxes[nms(boxes, scores, c.rpn_nms)[: c.post_nms_topk]]


def select_demo(class_probs: torch.Tensor, class_boxes: torch.Tensor, height: int, width: int,
                c: FrcnnConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The HF demo (`do_nms` with the NMS_THRESH_TEST retry): class-agnostic NMS on the argmax-class regressed
    boxes. Returns (indices of the kept proposals, their boxes in input pixels, their scores). Where no threshold
    gives 36 boxes (the reference code has no fallback), the last threshold's boxes are kept."""
    scores = class_probs[:, :-1].max(dim=1).values
    boxes = clip_boxes(class_boxes, height, width)
    keep = torch.zeros(0, dtype=torch.int64)
    for t in c.demo_nms:
        keep = nms(boxes, scores, t)[: c.num_boxes]
        if len(keep) == c.num_boxes:
            break
    return keep.numpy(), boxes[keep].numpy(), scores[keep].numpy()


def caffe_iou(boxes: np.ndarray) -> np.ndarray:
    """Pairwise IoU with Caffe's +1 pixel convention, float32 (the bottom-up-attention nms kernels)."""
    b = boxes.astype(np.float32)
    one = np.float32(1)
    areas = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    xx1 = np.maximum(b[:, None, 0], b[None, :, 0])
    yy1 = np.maximum(b[:, None, 1], b[None, :, 1])
    xx2 = np.minimum(b[:, None, 2], b[None, :, 2])
    yy2 = np.minimum(b[:, None, 3], b[None, :, 3])
    w = np.maximum(np.float32(0), xx2 - xx1 + one)
    h = np.maximum(np.float32(0), yy2 - yy1 + one)
    inter = w * h
    return inter / (areas[:, None] + areas[None, :] - inter)


def descending(scores: np.ndarray) -> np.ndarray:
    """Indices by score, highest first, ties by index: the one tie rule both languages share."""
    return np.lexsort((np.arange(len(scores)), -scores.astype(np.float64)))


def select_caffe(class_probs: torch.Tensor, rois: torch.Tensor, scale_x: float, scale_y: float,
                 c: FrcnnConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """generate_tsv.py of bottom-up-attention, as LXMERT's features were made: per-class NMS on the proposal boxes
    in original-image pixels, max_conf per box over the classes where it survives, boxes with max_conf >= 0.2,
    else the top 36 by max_conf. Returns (indices, proposal boxes in original pixels, max_conf)."""
    probs = class_probs[:, :-1].numpy().astype(np.float32)
    boxes = rois.numpy().astype(np.float32) * np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
    iou = caffe_iou(boxes)
    n = len(boxes)
    max_conf = np.zeros(n, dtype=np.float32)
    for cls in range(probs.shape[1]):
        scores = probs[:, cls]
        suppressed = np.zeros(n, dtype=bool)
        for i in descending(scores):
            if suppressed[i]:
                continue
            if scores[i] > max_conf[i]:
                max_conf[i] = scores[i]
            suppressed |= iou[i] > c.caffe_nms
    keep = np.nonzero(max_conf >= c.caffe_conf)[0]
    if len(keep) != c.num_boxes:
        keep = descending(max_conf)[: c.num_boxes]
    return keep, boxes[keep], max_conf[keep]
