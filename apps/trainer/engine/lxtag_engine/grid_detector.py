"""Placeholder detector in the detector-bundle contract (CONTRACTS.md 3) until the bottom-up-attention
Faster R-CNN lands: a fixed 6x6 grid of boxes, each described by a small random convolutional network
mean-pooled over its cell to 2048 features. Random, but a deterministic function of the pixels, so colour and
layout reach the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

CAFFE_BGR_MEAN = [102.9801, 115.9465, 122.7717]


@dataclass
class GridDetectorConfig:
    grid: int = 6  # 6 x 6 = 36 boxes, the count LXMERT expects
    feature_dim: int = 2048
    width: int = 64
    seed: int = 1234
    work_size: int = 384  # the image is resampled to this square first: fixed shapes export to ONNX


class GridDetector(nn.Module):
    def __init__(self, c: GridDetectorConfig) -> None:
        super().__init__()
        self.config = c
        torch.manual_seed(c.seed)
        self.stem = nn.Conv2d(3, c.width // 4, kernel_size=8, stride=4, padding=2)
        self.body = nn.Conv2d(c.width // 4, c.width, kernel_size=3, stride=2, padding=1)
        self.head = nn.Conv2d(c.width, c.feature_dim, kernel_size=1)
        with torch.no_grad():
            self.stem.weight.mul_(1 / 64.0)  # inputs are mean-subtracted pixels in roughly [-128, 128]

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """image (1, 3, H, W) BGR minus the Caffe mean -> boxes (36, 4) in input pixels, scores (36,), features (36, F)."""
        g = self.config.grid
        s = self.config.work_size
        x = F.interpolate(image, size=(s, s), mode="bilinear", align_corners=False)  # (1, 3, s, s)
        x = F.relu(self.stem(x))  # (1, C/4, s/4, s/4)
        x = F.relu(self.body(x))  # (1, C, s/8, s/8)
        x = F.avg_pool2d(x, kernel_size=s // 8 // g)  # (1, C, g, g)
        feats = F.relu(self.head(x))[0].flatten(1).transpose(0, 1)  # (g*g, F), row-major cells
        h = image.shape[2]
        w = image.shape[3]
        idx = torch.arange(g * g, dtype=torch.float32)
        col, row = torch.remainder(idx, g), torch.div(idx, g, rounding_mode="floor")
        cell_w, cell_h = w / g, h / g
        boxes = torch.stack([col * cell_w, row * cell_h, (col + 1) * cell_w, (row + 1) * cell_h], dim=1)
        scores = torch.ones(g * g)
        return boxes, scores, feats

    def manifest_input(self) -> dict:
        return {"color": "BGR", "pixel_mean": CAFFE_BGR_MEAN, "pixel_std": [1.0, 1.0, 1.0], "min_size": 600,
                "max_size": 1000}

    def to_dict(self) -> dict:
        return asdict(self.config)
