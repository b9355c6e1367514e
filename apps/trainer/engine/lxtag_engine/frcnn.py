"""The bottom-up-attention Faster R-CNN (ResNet-101 C4, Visual Genome) that LXMERT's features come from.

Module and parameter names follow `unc-nlp/frcnn-vg-finetuned` (reference part B), so the public
`pytorch_model.bin` loads strictly. The network is split where the reference pipeline has data-dependent steps:
`rpn_outputs` (image -> res4 map, decoded anchors, objectness) and `head_outputs` (res4 map + proposal boxes ->
2048-d features, class probabilities, argmax-class boxes) are static graphs exported to ONNX; proposal selection
and the 36-box selection are plain array code (`selection.py` here, `frcnn-selection.ts` in the feature worker).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import RoIPool

from .checkpoints import load_strictly, modern_name, read_state_dict

CAFFE_BGR_MEAN = [102.9801, 115.9465, 122.7717]
RPN_SCALE_CLAMP = math.log(1000.0 / 16)
ROI_BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


@dataclass
class FrcnnConfig:
    stage_blocks: list[int] = field(default_factory=lambda: [3, 4, 23])  # res2, res3, res4 (ResNet-101)
    res5_blocks: int = 3
    stem_out: int = 64
    res2_out: int = 256
    bottleneck: int = 64  # res2 bottleneck width; doubles per stage
    res5_out: int = 2048  # the feature size; res2_out * 8 in the real network
    res5_bottleneck: int = 512
    caffe_maxpool: bool = True
    anchor_sizes: list[float] = field(default_factory=lambda: [64.0, 128.0, 256.0, 512.0])
    aspect_ratios: list[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])
    rpn_hidden: int = 512
    pre_nms_topk: int = 6000
    post_nms_topk: int = 300
    rpn_nms: float = 0.7
    rpn_min_size: float = 0.0
    pooler_resolution: int = 14
    num_classes: int = 1600
    num_attrs: int = 400
    # 36-box selection: "caffe" (per-class NMS 0.3, confidence 0.2, proposal boxes: LXMERT's pretraining
    # features) or "demo" (class-agnostic NMS retried at 0.5/0.6/0.7, regressed boxes: the HF demo)
    selection: str = "caffe"
    caffe_nms: float = 0.3
    caffe_conf: float = 0.2
    demo_nms: list[float] = field(default_factory=lambda: [0.5, 0.6, 0.7])
    num_boxes: int = 36
    min_size: int = 600  # Caffe test scale; the HF demo uses 800 / 1333
    max_size: int = 1000

    @staticmethod
    def preset(name: str, **overrides: object) -> "FrcnnConfig":
        if name == "r101":
            c = FrcnnConfig()
        elif name == "tiny":
            c = FrcnnConfig(stage_blocks=[1, 1, 1], res5_blocks=1, stem_out=8, res2_out=32, bottleneck=8,
                            res5_bottleneck=16, rpn_hidden=32, pre_nms_topk=1000, post_nms_topk=100,
                            pooler_resolution=7, num_classes=20, num_attrs=10, min_size=224, max_size=400)
        else:
            raise ValueError(f"unknown detector preset {name!r} (r101 or tiny)")
        for k, v in overrides.items():
            if not hasattr(c, k):
                raise ValueError(f"unknown detector config key {k!r}")
            setattr(c, k, v)
        if c.selection not in ("caffe", "demo"):
            raise ValueError(f"selection must be caffe or demo, got {c.selection!r}")
        return c

    def to_dict(self) -> dict:
        return asdict(self)


class Conv2dNorm(nn.Conv2d):
    """Bias-free conv followed by BatchNorm under `.norm` (detectron2's Conv2d(norm=...), hence the key names)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> None:
        super().__init__(cin, cout, k, stride=stride, padding=padding, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(super().forward(x))


class BasicStem(nn.Module):
    def __init__(self, cout: int, caffe_maxpool: bool) -> None:
        super().__init__()
        self.conv1 = Conv2dNorm(3, cout, 7, stride=2, padding=3)
        self.caffe_maxpool = caffe_maxpool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        if self.caffe_maxpool:  # Caffe pooling: no padding, output size rounded up
            return F.max_pool2d(x, kernel_size=3, stride=2, padding=0, ceil_mode=True)
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class BottleneckBlock(nn.Module):
    """MSRA bottleneck: the stride sits in the first 1x1 conv (STRIDE_IN_1X1)."""

    def __init__(self, cin: int, cout: int, bottleneck: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.shortcut = Conv2dNorm(cin, cout, 1, stride=stride) if cin != cout else None
        self.conv1 = Conv2dNorm(cin, bottleneck, 1, stride=stride)
        self.conv2 = Conv2dNorm(bottleneck, bottleneck, 3, padding=dilation, dilation=dilation)
        self.conv3 = Conv2dNorm(bottleneck, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv1(x))
        out = F.relu(self.conv2(out))
        out = self.conv3(out)
        return F.relu(out + (self.shortcut(x) if self.shortcut is not None else x))


def make_stage(blocks: int, cin: int, cout: int, bottleneck: int, first_stride: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(*[BottleneckBlock(cin if i == 0 else cout, cout, bottleneck,
                                           stride=first_stride if i == 0 else 1, dilation=dilation)
                           for i in range(blocks)])


class ResNetC4(nn.Module):
    """Stem and res2..res4: the res4 map at stride 16."""

    def __init__(self, c: FrcnnConfig) -> None:
        super().__init__()
        self.stem = BasicStem(c.stem_out, c.caffe_maxpool)
        cin, cout, width = c.stem_out, c.res2_out, c.bottleneck
        for i, n in enumerate(c.stage_blocks):
            self.add_module(f"res{i + 2}", make_stage(n, cin, cout, width, first_stride=1 if i == 0 else 2))
            cin, cout, width = cout, cout * 2, width * 2
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.res4(self.res3(self.res2(x)))


class AnchorGenerator(nn.Module):
    def __init__(self, sizes: list[float], ratios: list[float]) -> None:
        super().__init__()
        cell = []
        for size in sizes:  # sizes outer, ratios inner: the order of the checkpoint's cell_anchors.0
            area = size**2.0
            for r in ratios:
                w = math.sqrt(area / r)
                h = r * w
                cell.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        self.cell_anchors = nn.ParameterList([nn.Parameter(torch.tensor(cell), requires_grad=False)])

    def forward(self, height: torch.Tensor | int, width: torch.Tensor | int, stride: int) -> torch.Tensor:
        """All anchors of an (height, width) map, location-major, anchor-minor: (height*width*A, 4)."""
        xs = torch.arange(0, width, dtype=torch.float32) * stride
        ys = torch.arange(0, height, dtype=torch.float32) * stride
        sy, sx = torch.meshgrid(ys, xs, indexing="ij")
        shifts = torch.stack([sx.reshape(-1), sy.reshape(-1), sx.reshape(-1), sy.reshape(-1)], dim=1)
        return (shifts.view(-1, 1, 4) + self.cell_anchors[0].view(1, -1, 4)).reshape(-1, 4)


class RPNHead(nn.Module):
    def __init__(self, cin: int, hidden: int, anchors: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, hidden, 3, padding=1)
        self.objectness_logits = nn.Conv2d(hidden, anchors, 1)
        self.anchor_deltas = nn.Conv2d(hidden, anchors * 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = F.relu(self.conv(x))
        return self.objectness_logits(t), self.anchor_deltas(t)


class RPN(nn.Module):
    def __init__(self, c: FrcnnConfig, cin: int) -> None:
        super().__init__()
        self.anchor_generator = AnchorGenerator(c.anchor_sizes, c.aspect_ratios)
        self.rpn_head = RPNHead(cin, c.rpn_hidden, len(c.anchor_sizes) * len(c.aspect_ratios))


class FastRCNNOutputLayers(nn.Module):
    def __init__(self, dim: int, num_classes: int, num_attrs: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(dim, num_classes + 1)  # background is the last column
        self.bbox_pred = nn.Linear(dim, num_classes * 4)  # class-specific
        self.cls_embedding = nn.Embedding(num_classes + 1, dim // 8)
        self.fc_attr = nn.Linear(dim + dim // 8, dim // 4)
        self.attr_score = nn.Linear(dim // 4, num_attrs + 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores = self.cls_score(x)
        deltas = self.bbox_pred(x)
        emb = self.cls_embedding(scores.argmax(-1))
        attr = self.attr_score(F.relu(self.fc_attr(torch.cat([x, emb], -1))))
        return scores, attr, deltas


class Res5ROIHeads(nn.Module):
    def __init__(self, c: FrcnnConfig, cin: int) -> None:
        super().__init__()
        self.pooler = RoIPool((c.pooler_resolution, c.pooler_resolution), spatial_scale=1.0 / 16)
        # res5 as the VG model ends up after its RES5HALVE=false patch: block 0 at stride 1, every 3x3 conv dilated 2
        self.res5 = make_stage(c.res5_blocks, cin, c.res5_out, c.res5_bottleneck, first_stride=1, dilation=2)
        self.box_predictor = FastRCNNOutputLayers(c.res5_out, c.num_classes, c.num_attrs)


def clip_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    out = boxes.clone()
    out[:, 0::2] = out[:, 0::2].clamp(0, width)
    out[:, 1::2] = out[:, 1::2].clamp(0, height)
    return out


def with_image_index(boxes: torch.Tensor, image: int = 0) -> torch.Tensor:
    """(R, 4) boxes of one image as the (R, 5) rois RoIPool and `head_outputs` take."""
    return torch.cat([torch.full_like(boxes[:, :1], image), boxes], dim=1)


def apply_deltas(deltas: torch.Tensor, boxes: torch.Tensor, weights: tuple[float, ...], clamp: float) -> torch.Tensor:
    """Box2BoxTransform.apply_deltas for one delta set per box: (N, 4) deltas on (N, 4) boxes."""
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    ctr_x = boxes[:, 0] + 0.5 * widths
    ctr_y = boxes[:, 1] + 0.5 * heights
    dx = deltas[:, 0] / weights[0]
    dy = deltas[:, 1] / weights[1]
    dw = torch.clamp(deltas[:, 2] / weights[2], max=clamp)
    dh = torch.clamp(deltas[:, 3] / weights[3], max=clamp)
    px = dx * widths + ctr_x
    py = dy * heights + ctr_y
    pw = torch.exp(dw) * widths
    ph = torch.exp(dh) * heights
    return torch.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], dim=1)


class FasterRCNN(nn.Module):
    """GeneralizedRCNN of `unc-nlp/frcnn-vg-finetuned`, split into its two static graphs."""

    def __init__(self, c: FrcnnConfig) -> None:
        super().__init__()
        self.config = c
        self.backbone = ResNetC4(c)
        self.proposal_generator = RPN(c, self.backbone.out_channels)
        self.roi_heads = Res5ROIHeads(c, self.backbone.out_channels)

    def rpn_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """images (N, 3, H, W) -> res4 (N, C, h, w), proposals (N, h*w*A, 4) decoded anchors in input pixels (not
        yet clipped), objectness (N, h*w*A) logits, both in anchor order (location-major, anchor-minor)."""
        res4 = self.backbone(images)
        logits, deltas = self.proposal_generator.rpn_head(res4)
        n, a, h, w = logits.shape[0], logits.shape[1], res4.shape[2], res4.shape[3]
        anchors = self.proposal_generator.anchor_generator(h, w, 16)
        objectness = logits.permute(0, 2, 3, 1).reshape(n, -1)
        deltas = deltas.view(n, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(-1, 4)
        proposals = apply_deltas(deltas, anchors.repeat(n, 1), (1.0, 1.0, 1.0, 1.0), RPN_SCALE_CLAMP)
        return res4, proposals.view(n, -1, 4), objectness

    def head_outputs(self, res4: torch.Tensor, rois: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """res4 maps and proposal boxes (R, 5) as (image index, x1, y1, x2, y2) in input pixels -> features (R, 2048)
        mean-pooled res5, class_probs (R, classes + 1) softmax, class_boxes (R, 4) the regressed box of each
        proposal's max-scoring non-background class (not clipped)."""
        features = self.pooled_features(res4, rois)
        logits, _, deltas = self.roi_heads.box_predictor(features)
        probs = F.softmax(logits, dim=-1)
        best = probs[:, :-1].argmax(dim=1)
        chosen = deltas.view(deltas.shape[0], -1, 4).gather(1, best.view(-1, 1, 1).expand(-1, 1, 4)).squeeze(1)
        return features, probs, apply_deltas(chosen, rois[:, 1:], ROI_BOX_WEIGHTS, RPN_SCALE_CLAMP)

    def pooled_features(self, res4: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """RoIPool, res5, mean over the 14x14 map: the 2048-d region features (Caffe's pool5_flat)."""
        return self.roi_heads.res5(self.roi_heads.pooler(res4, rois)).mean(dim=[2, 3])

    @torch.no_grad()
    def calibrate_classes(self, seed: int, spread: float = 2.0) -> None:
        """Centres random class logits on a noise image's proposals: ReLU features share one large mean direction,
        which otherwise hands every proposal to the same class. Afterwards the logits of a proposal differ by about
        `spread` between classes, so scores, the 0.2 confidence rule and NMS order have something to work with."""
        g = torch.Generator().manual_seed(seed)
        h, w = 400, 600
        probe = torch.rand((1, 3, h, w), generator=g) * 255 - 128
        res4, proposals, objectness = self.rpn_outputs(probe)
        rois = clip_boxes(proposals[0, objectness[0].argsort(descending=True)[: self.config.post_nms_topk]], h, w)
        features = self.pooled_features(res4, with_image_index(rois))
        cls = self.roi_heads.box_predictor.cls_score
        centred = (features - features.mean(0)) @ cls.weight.T
        cls.weight.mul_(spread / centred.std().clamp_min(1e-6))
        cls.bias.copy_(-(features.mean(0) @ cls.weight.T))

    def randomize(self, seed: int) -> "FasterRCNN":
        """Random weights that keep activations in a sane range through any depth, and give distinct class
        scores (the checkpoint's own init would make every class probability about 1/1601)."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "cell_anchors" in name:
                    continue
                if p.dim() == 4:
                    fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                    p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2.0 / fan_in))
                elif p.dim() == 2:
                    p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
                elif name.endswith("norm.weight"):
                    p.copy_(0.5 + torch.rand(p.shape, generator=g))
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            for name, b in self.named_buffers():
                if name.endswith("running_mean"):
                    b.copy_(torch.randn(b.shape, generator=g) * 0.1)
                elif name.endswith("running_var"):
                    b.copy_(0.5 + torch.rand(b.shape, generator=g))
            # the last BN of each residual branch starts small, so deep stages do not blow up
            for m in self.modules():
                if isinstance(m, BottleneckBlock):
                    m.conv3.norm.weight.mul_(0.2)
            self.backbone.stem.conv1.weight.mul_(1 / 64.0)  # inputs are mean-subtracted pixels, about +-128
            # (the class scores' spread is set by calibrate_classes)
            self.roi_heads.box_predictor.bbox_pred.weight.mul_(0.1)  # boxes stay near their proposals
            self.proposal_generator.rpn_head.anchor_deltas.weight.mul_(0.1)
            self.proposal_generator.rpn_head.objectness_logits.weight.mul_(4.0)
        return self.eval()


def build_detector(config: FrcnnConfig, seed: int = 0) -> FasterRCNN:
    """A detector with random weights (tests, benchmarks, a fresh install without the public weights)."""
    model = FasterRCNN(config).randomize(seed)
    model.calibrate_classes(seed)
    return model


def load_detector_weights(config: FrcnnConfig, checkpoint: Path) -> FasterRCNN:
    """Loads a `GeneralizedRCNN` state dict (old `gamma`/`beta` names renamed, as the HF loader does) strictly;
    a key or shape mismatch is an error that names the keys."""
    state = {modern_name(k): v for k, v in read_state_dict(checkpoint).items()}
    model = FasterRCNN(config)
    load_strictly(model, state, f"{checkpoint} ({config.stage_blocks} detector)")
    return model.eval()


def save_detector(model: FasterRCNN, path: Path) -> None:
    """The PyTorch detector with its config, for `load_saved_detector` (parity checks, speed baselines)."""
    torch.save({"config": model.config.to_dict(), "state_dict": model.state_dict()}, path)


def load_saved_detector(path: Path) -> FasterRCNN:
    saved = torch.load(str(path), map_location="cpu")
    model = FasterRCNN(FrcnnConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"], strict=True)
    return model.eval()
