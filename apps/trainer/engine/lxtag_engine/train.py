"""The training loop: BCE-with-logits (the paper's) or softmax cross-entropy, BertAdam (warmup then linear decay,
no bias correction), gradient clipping, best-F1@2 checkpointing on the validation split (with or without the
hashtags in the captions), early stopping, resumable, one line per epoch."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import dataset as ds
from .checkpoints import load_strictly
from .metrics import ranking_metrics
from .models import build_model, fit_data, load_checkpoint, save_checkpoint

LOSSES = ("bce", "softmax")
SELECT_ON = ("val", "val_notags", "both")


@dataclass
class TrainConfig:
    architecture: str = "lxmert4hashtag"
    model: dict = field(default_factory=dict)
    epochs: int = 75  # the paper's
    batch_size: int = 18  # the paper's
    lr: float = 5e-5
    warmup: float = 0.1  # share of steps
    weight_decay: float = 0.01
    clip: float = 5.0
    patience: int = 10  # epochs without a better val F1@2
    seed: int = 0
    eval_batch_size: int = 64
    # bce: one sigmoid per hashtag (the paper's). softmax: cross-entropy against the post's labels as a
    # distribution; logits rank the same way for serving, but sigmoid(logit) is then no calibrated probability
    loss: str = "bce"
    select_on: str = "val"  # the best epoch by val F1@2, val_notags F1@2, or "both" (their mean)
    # share of training rows read from train_notags each epoch (drawn anew per epoch): label-word masking, so the
    # model does not learn to read its answers from in-sentence hashtag words that new posts lack
    mask_share: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.mask_share <= 1.0:
            raise ValueError(f"mask_share must be in [0, 1], got {self.mask_share}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {LOSSES}")
        if self.select_on not in SELECT_ON:
            raise ValueError(f"unknown select_on {self.select_on!r}; expected one of {SELECT_ON}")


def softmax_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax(logits) against labels / labels.sum(row); posts without labels are left out."""
    counts = labels.sum(dim=1)  # (B,)
    kept = counts > 0
    if not bool(kept.any()):
        return logits.sum() * 0  # no target in this batch: a zero loss that still backpropagates
    targets = labels[kept] / counts[kept].unsqueeze(1)  # (b, H) rows sum to 1
    return -(targets * torch.log_softmax(logits[kept], dim=1)).sum(dim=1).mean()


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """(logits (B, H), labels (B, H)) -> the batch's scalar loss."""
    return nn.BCEWithLogitsLoss() if name == "bce" else softmax_loss


class BertAdam(torch.optim.Optimizer):
    """Adam with decoupled weight decay and no bias correction, as in the original LXMERT/BERT code."""

    def __init__(self, params, lr: float, weight_decay: float = 0.01, betas=(0.9, 0.999), eps: float = 1e-6):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                m, v = state["m"], state["v"]
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"] and p.dim() > 1:
                    update = update + group["weight_decay"] * p
                p.add_(update, alpha=-group["lr"])


def warmup_linear(step: int, total: int, warmup: float) -> float:
    w = max(1, int(total * warmup))
    return step / w if step < w else max(0.0, (total - step) / max(1, total - w))


@torch.no_grad()
def predict_scores(model: nn.Module, split: ds.Split, batch_size: int = 64) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(split), batch_size):
        b = split.batch(np.arange(start, min(start + batch_size, len(split))))
        logits, _ = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], b["visual_feats"], b["visual_pos"])
        out.append(logits.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, split.labels.shape[1]), dtype=np.float32)


def split_metrics(model: nn.Module, split: ds.Split, batch_size: int = 64) -> dict[str, dict[str, float]]:
    """ranking_metrics on a split; with `recall_all` and `f1_all` when the split carries `label_count`."""
    return ranking_metrics(predict_scores(model, split, batch_size), np.asarray(split.labels),
                           label_count=split.label_count)


def selection_score(metrics: dict[str, dict], select_on: str) -> float:
    """The number the best epoch and early stopping go by: F1@2 of val, of val_notags, or their mean."""
    if select_on == "both":
        return (metrics["val"]["2"]["f1"] + metrics["val_notags"]["2"]["f1"]) / 2
    return metrics[select_on]["2"]["f1"]


# the parameters with one row per hashtag: the last layer of every architecture's head
OUTPUT_LAYERS = ("answer_head.logit_fc.3.", "prior", "hashtag_")


def warm_start(model: nn.Module, hashtags: list[str], checkpoint: Path) -> str:
    """Loads a trained or imported checkpoint of the same architecture and size into `model`. The head's output
    rows follow their hashtags by name; hashtags the checkpoint does not know keep their fresh initialisation (the
    head grows). Returns a line for the log."""
    warm, ckpt = load_checkpoint(checkpoint)
    own = model.state_dict()
    if type(warm) is not type(model):
        raise ValueError(f"{checkpoint} is a {ckpt['architecture']} model, not {type(model).architecture}")  # type: ignore[attr-defined]
    rows = {h: i for i, h in enumerate(ckpt["hashtags"])}
    shared = [(i, rows[h]) for i, h in enumerate(hashtags) if h in rows]
    head = {k for k in own if k.startswith(OUTPUT_LAYERS)}
    merged = warm.state_dict()
    for key in head:
        grown = own[key].clone()
        for new, old in shared:
            grown[new] = merged[key][old]
        merged[key] = grown
    load_strictly(model, merged, f"{checkpoint} (the same model config is needed)")
    return (f"warm start from {checkpoint}: {len(shared)} of {len(hashtags)} hashtags carried over, "
            f"{len(hashtags) - len(shared)} new")


def train(data_dir: Path, out: Path, cfg: TrainConfig, init: Path | None = None, log=print) -> dict:
    """Trains on `data_dir`, writes `checkpoint.pt` (best), `last.pt` (resume), `train_log.json` and
    `metrics.json` in `out`. Validation runs every epoch on val and, when present, val_notags; test and
    test_notags once at the end, with the best checkpoint."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    data = ds.load(data_dir)
    if cfg.select_on != "val" and data.val_notags is None:
        raise ValueError(f"select_on {cfg.select_on!r} needs a val_notags split, which {data_dir} does not hold")
    if cfg.mask_share > 0 and data.train_notags is None:
        raise ValueError(f"mask_share {cfg.mask_share} needs a train_notags split, which {data_dir} does not hold")
    hashtags = data.hashtags
    model = build_model(cfg.architecture, cfg.model, len(hashtags))
    fit_data(model, data.train)  # before a warm start, so hashtags the checkpoint lacks start from the data
    if init is not None:
        log(warm_start(model, hashtags, init))
    opt = BertAdam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    loss_fn = loss_function(cfg.loss)
    history: list[dict] = []
    best, best_epoch, start_epoch = -1.0, -1, 0
    resume = out / "last.pt"
    if resume.exists():
        state = torch.load(resume, map_location="cpu")
        # options added since a run began hold their defaults in it
        saved = {**asdict(TrainConfig()), **state.get("train_config", {})}
        if saved != asdict(cfg) or state.get("dataset_id") != data.meta.get("id"):
            raise ValueError(f"{out} holds a run with another configuration or dataset; resume needs the same "
                             "arguments and data, or use a new --out")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, best, best_epoch, start_epoch = state["history"], state["best"], state["best_epoch"], state["epoch"] + 1
        torch.set_rng_state(state["rng"])
        log(f"resuming at epoch {start_epoch + 1}")
    rng = np.random.default_rng(cfg.seed)
    for _ in range(start_epoch):
        rng.permutation(len(data.train))  # keep the shuffle sequence identical after a resume
    t0 = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        epoch_t0 = time.time()
        perm = rng.permutation(len(data.train))
        masking = np.random.default_rng((cfg.seed, epoch))  # per epoch, so a resumed run draws the same rows
        losses = []
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for g in opt.param_groups:
                g["lr"] = cfg.lr * warmup_linear(step, total, cfg.warmup)
            idx = np.sort(perm[i * cfg.batch_size:(i + 1) * cfg.batch_size])
            masked = masking.random(len(idx)) < cfg.mask_share  # (B,), aligned with the sorted rows
            b = data.train.batch(idx, data.train_notags, masked)
            logits, _ = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], b["visual_feats"], b["visual_pos"])
            loss = loss_fn(logits, b["labels"])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            losses.append(float(loss))
        epoch_train_s = time.time() - epoch_t0
        evaluated = validation_metrics(model, data, cfg.eval_batch_size)
        metrics, score = evaluated["val"], selection_score(evaluated, cfg.select_on)
        elapsed = time.time() - t0
        eta = elapsed / (epoch + 1 - start_epoch) * (cfg.epochs - epoch - 1)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **evaluated, "elapsed_s": elapsed,
                        "train_samples_per_s": len(data.train) / max(1e-9, epoch_train_s)})
        improved = score > best
        if improved:
            best, best_epoch = score, epoch + 1
            save_checkpoint(out / "checkpoint.pt", model, cfg.architecture, model.config.to_dict(), hashtags,
                            {"epoch": epoch + 1, "train_config": asdict(cfg), "training": training_record(cfg)})
        notags = f" notags F1@2 {evaluated['val_notags']['2']['f1']:.3f}" if "val_notags" in evaluated else ""
        log(f"epoch {epoch + 1}/{cfg.epochs} loss {np.mean(losses):.4f} val P@2 {metrics['2']['precision']:.3f} "
            f"R@2 {metrics['2']['recall']:.3f} F1@2 {metrics['2']['f1']:.3f} acc@2 {metrics['2']['accuracy']:.3f}"
            f"{notags}{' *' if improved else ''} elapsed {elapsed:.0f}s eta {eta:.0f}s")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "history": history, "best": best,
                    "best_epoch": best_epoch, "epoch": epoch, "rng": torch.get_rng_state(),
                    "train_config": asdict(cfg), "dataset_id": data.meta.get("id")}, resume)
        # best_val_f1_at_2 keeps its name for readers of the log; with select_on other than val it is that score
        (out / "train_log.json").write_text(json.dumps({"config": asdict(cfg), "history": history,
                                                         "best_val_f1_at_2": best, "best_epoch": best_epoch,
                                                         "select_on": cfg.select_on}, indent=2))
        if epoch + 1 - best_epoch >= cfg.patience:
            log(f"early stop: no better {cfg.select_on} F1@2 for {cfg.patience} epochs")
            break
    model, _ = load_checkpoint(out / "checkpoint.pt")
    best_entry = history[best_epoch - 1]
    result = {"best_epoch": best_epoch, **{k: best_entry[k] for k in ("val", "val_notags") if k in best_entry}}
    for name in ("test", "test_notags"):
        split = getattr(data, name)
        if split is not None:
            result[name] = split_metrics(model, split, cfg.eval_batch_size)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def validation_metrics(model: nn.Module, data: ds.Dataset, batch_size: int) -> dict[str, dict]:
    """{"val": ..., "val_notags": ...} for the splits present; without a val split, the train split stands in."""
    out = {"val": split_metrics(model, data.val or data.train, batch_size)}
    if data.val_notags is not None:
        out["val_notags"] = split_metrics(model, data.val_notags, batch_size)
    return out


def training_record(cfg: TrainConfig) -> dict:
    """How the model was trained, for the checkpoint and the bundle manifest's `training`."""
    return {"loss": cfg.loss, "select_on": cfg.select_on, "mask_share": cfg.mask_share}
