"""The whole detector in PyTorch: decoded pixels in, the RoI cache contract (CONTRACTS.md 2) out. The reference
the ONNX + TypeScript path is checked against, and the speed baseline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .frcnn import CAFFE_BGR_MEAN, FasterRCNN, FrcnnConfig, with_image_index
from .selection import select_caffe, select_demo, select_proposals


def target_size(height: int, width: int, min_size: int, max_size: int) -> tuple[int, int]:
    """ResizeShortestEdge: shortest side to min_size unless the longest would pass max_size; rounded last."""
    scale = min_size / min(height, width)
    new_h, new_w = (min_size, scale * width) if height < width else (scale * height, min_size)
    if max(new_h, new_w) > max_size:
        shrink = max_size / max(new_h, new_w)
        new_h, new_w = new_h * shrink, new_w * shrink
    return int(new_h + 0.5), int(new_w + 0.5)


def preprocess(rgb: np.ndarray, c: FrcnnConfig) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float32 (1, 3, h, w): BGR, bilinear resize (align_corners=False), Caffe means."""
    h, w = target_size(rgb.shape[0], rgb.shape[1], c.min_size, c.max_size)
    x = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1])).permute(2, 0, 1).float().unsqueeze(0)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return x - torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1)


@dataclass
class Detections:
    indices: np.ndarray  # which proposals were kept, in output order
    boxes: np.ndarray  # (36, 4) x1/W, y1/H, x2/W, y2/H of the original image; zero rows pad
    scores: np.ndarray  # (36,)
    features: np.ndarray  # (36, F)
    num_real_boxes: int


@torch.no_grad()
def detect(model: FasterRCNN, rgb: np.ndarray, dump: dict[str, np.ndarray] | None = None) -> Detections:
    """`dump`, when given, receives every intermediate (input, graph outputs, proposals) so each step can be
    checked on its own."""
    c = model.config
    image = preprocess(rgb, c)
    in_h, in_w = image.shape[2], image.shape[3]
    res4, proposals, objectness = model.rpn_outputs(image)
    rois = select_proposals(proposals[0], objectness[0], in_h, in_w, c)
    features, probs, class_boxes = model.head_outputs(res4, with_image_index(rois))
    if dump is not None:
        dump.update({"image": image, "res4": res4, "proposals": proposals, "objectness": objectness, "rois": rois,
                     "features": features, "class_probs": probs, "class_boxes": class_boxes})
        for k, v in dump.items():
            dump[k] = v.numpy()
    raw_h, raw_w = rgb.shape[0], rgb.shape[1]
    if c.selection == "caffe":
        keep, boxes, scores = select_caffe(probs, rois, raw_w / in_w, raw_h / in_h, c)
        norm = boxes / np.array([raw_w, raw_h, raw_w, raw_h], dtype=np.float32)
    else:
        keep, boxes, scores = select_demo(probs, class_boxes, in_h, in_w, c)
        norm = boxes / np.array([in_w, in_h, in_w, in_h], dtype=np.float32)
    n = len(keep)
    out_boxes = np.zeros((c.num_boxes, 4), dtype=np.float32)
    out_scores = np.zeros(c.num_boxes, dtype=np.float32)
    out_feats = np.zeros((c.num_boxes, features.shape[1]), dtype=np.float32)
    out_boxes[:n] = np.clip(norm, 0, 1)
    out_scores[:n] = scores
    out_feats[:n] = features.numpy()[keep]
    return Detections(keep, out_boxes, out_scores, out_feats, n)
