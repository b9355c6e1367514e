"""python3 -m lxtag_engine.devtools <command>: the tools only tests and benchmarks use, kept out of the production
command line. random-model writes a bundle with random weights; parity and speed run a checkpoint in PyTorch (the
ONNX Runtime parity test's reference outputs, the benchmark's denominator); detect is the detector parity test's
PyTorch reference."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from .cli import model_args, model_config, run
from .detect import detect
from .export import export_model
from .frcnn import load_saved_detector
from .models import build_model, load_checkpoint, save_checkpoint


def cmd_random_model(args: argparse.Namespace) -> None:
    """A model bundle with random weights: for tests, benchmarks and parity checks."""
    torch.manual_seed(args.seed)
    hashtags = [f"tag{i}" for i in range(args.hashtags)] if not args.hashtags_file else \
        [h for h in Path(args.hashtags_file).read_text().splitlines() if h.strip()]
    config = model_config(args)
    model = build_model(args.arch, config, len(hashtags))
    manifest = export_model(model, Path(args.out), architecture=args.arch, config=config, hashtags=hashtags,
                            detector=args.detector, model_id=args.id)
    save_checkpoint(Path(args.out) / "checkpoint.pt", model, args.arch, config, hashtags)
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": args.out}))


def cmd_detect(args: argparse.Namespace) -> None:
    """The PyTorch detector on raw RGB files (the parity test's reference): one JSON object per image."""
    model = load_saved_detector(Path(args.checkpoint))
    torch.set_num_threads(args.threads)
    results = []
    for i, item in enumerate(json.loads(Path(args.images).read_text())):
        rgb = np.fromfile(item["path"], dtype=np.uint8).reshape(item["height"], item["width"], 3)
        start = time.time()
        steps: dict[str, np.ndarray] | None = {} if args.dump else None
        d = detect(model, rgb, steps)
        result = {"path": item["path"], "seconds": time.time() - start, "num_real_boxes": d.num_real_boxes,
                  "indices": d.indices.tolist(), "boxes": d.boxes.flatten().tolist(),
                  "scores": d.scores.flatten().tolist(), "features": d.features.flatten().tolist()}
        if steps is not None:  # raw little-endian float32 files, shapes in the JSON
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            result["steps"] = {}
            for name, value in steps.items():
                path = Path(args.dump) / f"{i}.{name}.f32"
                value.astype("<f4").tofile(path)
                result["steps"][name] = {"path": str(path), "dims": list(value.shape)}
        results.append(result)
    Path(args.out).write_text(json.dumps(results))


def cmd_parity(args: argparse.Namespace) -> None:
    """Runs a checkpoint in PyTorch on fixed inputs and writes inputs and outputs as JSON for the Node parity test."""
    model, _ = load_checkpoint(Path(args.checkpoint))
    torch.manual_seed(7)
    b, length = 3, 9
    ids = torch.randint(5, model.config.vocab_size, (b, length), dtype=torch.int64)
    mask = torch.ones(b, length, dtype=torch.int64)
    mask[1, 6:] = 0  # padded rows
    mask[2, 3:] = 0
    ids = ids * mask
    feats = torch.rand(b, 36, model.config.visual_feat_dim)
    pos = torch.rand(b, 36, 4).sort(dim=-1).values
    with torch.no_grad():
        logits, pooled = model(ids, mask, torch.zeros_like(ids), feats, pos)
    payload = {"B": b, "L": length, "input_ids": ids.flatten().tolist(), "attention_mask": mask.flatten().tolist(),
               "visual_feats": feats.flatten().tolist(), "visual_pos": pos.flatten().tolist(),
               "logits": logits.flatten().tolist(), "pooled": pooled.flatten().tolist()}
    Path(args.out).write_text(json.dumps(payload))


def cmd_speed(args: argparse.Namespace) -> None:
    """PyTorch eager inference speed of a checkpoint: the denominator of the ONNX Runtime comparison."""
    model, _ = load_checkpoint(Path(args.checkpoint))
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, t = args.batch, args.length
    inputs = (torch.randint(5, model.config.vocab_size, (b, t)), torch.ones(b, t, dtype=torch.int64),
              torch.zeros(b, t, dtype=torch.int64), torch.rand(b, 36, model.config.visual_feat_dim), torch.rand(b, 36, 4))
    with torch.no_grad():
        model(*inputs)  # warm-up
        start = time.time()
        for _ in range(args.iters):
            model(*inputs)
        seconds = time.time() - start
    print(json.dumps({"posts_per_s": b * args.iters / seconds, "batch": b, "length": t, "threads": args.threads}))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m lxtag_engine.devtools")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("random-model", help="a model bundle with random weights (tests, benchmarks)")
    r.add_argument("--out", required=True)
    model_args(r)
    r.add_argument("--hashtags", type=int, default=20)
    r.add_argument("--hashtags-file")
    r.add_argument("--detector", default="unknown")
    r.add_argument("--id")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=cmd_random_model)

    dd = sub.add_parser("detect", help="run a saved detector.pt on raw RGB files (parity reference)")
    dd.add_argument("--checkpoint", required=True)
    dd.add_argument("--images", required=True, help='JSON list of {"path", "width", "height"}')
    dd.add_argument("--threads", type=int, default=2)
    dd.add_argument("--dump", help="folder for every intermediate tensor, for step-by-step parity checks")
    dd.add_argument("--out", required=True)
    dd.set_defaults(fn=cmd_detect)

    q = sub.add_parser("parity", help="PyTorch outputs on fixed inputs, for the ONNX Runtime parity test")
    q.add_argument("--checkpoint", required=True)
    q.add_argument("--out", required=True)
    q.set_defaults(fn=cmd_parity)

    sp = sub.add_parser("speed", help="PyTorch eager posts/s of a checkpoint on random inputs")
    sp.add_argument("--checkpoint", required=True)
    sp.add_argument("--batch", type=int, default=32)
    sp.add_argument("--length", type=int, default=32)
    sp.add_argument("--iters", type=int, default=10)
    sp.add_argument("--threads", type=int, default=2)
    sp.set_defaults(fn=cmd_speed)

    run(p, argv)


if __name__ == "__main__":
    main()
