"""python3 -m lxtag_engine <command>: files in, files out (CONTRACTS.md 3-6). Never touches Redis, Postgres or S3."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import synthetic
from .detect import detect
from .evaluate import evaluate, write_report
from .export import export_detector, export_model
from .frcnn import (FasterRCNN, FrcnnConfig, build_detector, load_detector_weights, load_saved_detector,
                    save_detector)
from .importer import import_checkpoint
from .lxmert import LxmertConfig
from .models import build_model, load_checkpoint, save_checkpoint
from .train import TrainConfig, train


def _model_config(args: argparse.Namespace) -> dict:
    overrides = json.loads(args.config) if args.config else {}
    return LxmertConfig.preset(args.preset, **overrides).to_dict()


def cmd_train(args: argparse.Namespace) -> None:
    out = Path(args.out)
    cfg = TrainConfig(architecture=args.arch, model=_model_config(args), epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed)
    result = train(Path(args.data), out, cfg, init=Path(args.init) if args.init else None,
                   log=lambda s: print(s, flush=True))
    meta = json.loads((Path(args.data) / "dataset.json").read_text())
    model, ckpt = load_checkpoint(out / "checkpoint.pt")
    metrics = {"val": result["val"], **({"test": result["test"]} if "test" in result else {})}
    dataset = {"id": meta.get("id"), **{s: meta.get("splits", {}).get(s, 0) for s in ("train", "val", "test")}}
    manifest = export_model(model, out, architecture=ckpt["architecture"], config=ckpt["config"],
                            hashtags=ckpt["hashtags"], detector=meta.get("detector", "unknown"),
                            max_length=meta.get("max_length", 128), metrics=metrics, dataset=dataset)
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": str(out)}), flush=True)


def cmd_export(args: argparse.Namespace) -> None:
    model, ckpt = load_checkpoint(Path(args.checkpoint))
    manifest = export_model(model, Path(args.out), architecture=ckpt["architecture"], config=ckpt["config"],
                            hashtags=ckpt["hashtags"], detector=args.detector)
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": args.out}))


def cmd_import(args: argparse.Namespace) -> None:
    """A public LXMERT checkpoint (HF folder or airsplay .pth) as a complete model bundle with a new head."""
    hashtags = [h.strip() for h in Path(args.hashtags).read_text().splitlines() if h.strip()] if args.hashtags else None
    overrides = json.loads(args.config) if args.config else {}
    model, tokenizer, report = import_checkpoint(Path(args.checkpoint), hashtags, Path(args.vocab) if args.vocab else None,
                                                 overrides)
    out = Path(args.out)
    config = model.config.to_dict()
    manifest = export_model(model, out, architecture="lxmert4hashtag", config=config, hashtags=hashtags or [],
                            detector=args.detector, max_length=args.max_length, model_id=args.id,
                            dataset={"id": f"import:{Path(args.checkpoint).name}"},
                            extra_files={"tokenizer.json": json.dumps(tokenizer).encode()})
    save_checkpoint(out / "checkpoint.pt", model, "lxmert4hashtag", config, hashtags or [])
    print(json.dumps({"event": "imported", "id": manifest["id"], "out": str(out), **report}))


def cmd_random_model(args: argparse.Namespace) -> None:
    """A model bundle with random weights: for tests, benchmarks and parity checks."""
    torch.manual_seed(args.seed)
    hashtags = [f"tag{i}" for i in range(args.hashtags)] if not args.hashtags_file else \
        [h for h in Path(args.hashtags_file).read_text().splitlines() if h.strip()]
    config = _model_config(args)
    model = build_model(args.arch, config, len(hashtags))
    manifest = export_model(model, Path(args.out), architecture=args.arch, config=config, hashtags=hashtags,
                            detector=args.detector, model_id=args.id)
    save_checkpoint(Path(args.out) / "checkpoint.pt", model, args.arch, config, hashtags)
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": args.out}))


def _detector_config(args: argparse.Namespace) -> FrcnnConfig:
    overrides = json.loads(args.config) if args.config else {}
    return FrcnnConfig.preset(args.preset, selection=args.selection, **overrides)


def _write_detector(model: FasterRCNN, args: argparse.Namespace, weights: str) -> None:
    out = Path(args.out)
    manifest = export_detector(model, out, preset=args.preset, weights=weights, detector_id=args.id)
    # the PyTorch weights stay beside the bundle (not in its files): parity checks and speed baselines load them
    save_detector(model, out / "detector.pt")
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": str(out), "weights": weights}))


def cmd_export_detector(args: argparse.Namespace) -> None:
    """A detector bundle with random weights: tests, benchmarks, and a fresh install without the public weights."""
    _write_detector(build_detector(_detector_config(args), args.seed), args, "random")


def cmd_import_detector(args: argparse.Namespace) -> None:
    """The public `unc-nlp/frcnn-vg-finetuned` weights (pytorch_model.bin), loaded strictly, as a detector bundle."""
    model = load_detector_weights(_detector_config(args), Path(args.checkpoint))
    _write_detector(model, args, f"checkpoint:{Path(args.checkpoint).name}")


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


def cmd_synthetic(args: argparse.Namespace) -> None:
    meta = synthetic.write(Path(args.out), args.posts, args.seed, feature_dim=args.feature_dim)
    print(json.dumps({"event": "synthetic", "out": args.out, "splits": meta["splits"], "hashtags": len(meta["hashtags"])}))


def cmd_evaluate(args: argparse.Namespace) -> None:
    checkpoints = {}
    for spec in args.model:
        name, _, path = spec.partition("=")
        if not path:
            raise ValueError(f"--model takes NAME=CHECKPOINT, got {spec!r}")
        checkpoints[name] = Path(path)
    results = evaluate(Path(args.data), checkpoints, args.split)
    write_report(results, Path(args.out), f"{args.split} split of {args.data}")
    for name, r in results.items():
        m = r["metrics"]["2"]
        kinds = " ".join(f"{k} {v:.3f}" for k, v in r.get("f1_by_kind", {}).items())
        print(f"{name:16} P@2 {m['precision']:.3f} R@2 {m['recall']:.3f} F1@2 {m['f1']:.3f} acc@2 {m['accuracy']:.3f}"
              f"{'  F1 by kind (p > 0.5): ' + kinds if kinds else ''}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m lxtag_engine")
    sub = p.add_subparsers(dest="command", required=True)

    def model_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--arch", default="lxmert4hashtag")
        sp.add_argument("--preset", default="tiny", help="base (the paper's sizes) or tiny")
        sp.add_argument("--config", help="JSON object of config overrides, e.g. '{\"vocab_size\": 8000}'")

    t = sub.add_parser("train", help="train on dataset shards and export the best checkpoint")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    model_args(t)
    t.add_argument("--epochs", type=int, default=75)
    t.add_argument("--batch-size", type=int, default=18)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--init", help="checkpoint to warm-start from")
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("export", help="export a checkpoint to an ONNX model bundle")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--detector", default="unknown")
    e.set_defaults(fn=cmd_export)

    im = sub.add_parser("import", help="a public LXMERT checkpoint (HF folder or airsplay .pth) as a model bundle")
    im.add_argument("--checkpoint", required=True, help="HF folder with pytorch_model.bin, or an airsplay .pth")
    im.add_argument("--out", required=True)
    im.add_argument("--hashtags", help="one hashtag per line: the new head's outputs")
    im.add_argument("--vocab", help="vocab.txt when the checkpoint has none beside it (airsplay .pth)")
    im.add_argument("--config", help="JSON overrides of what config.json or the tensors say")
    im.add_argument("--detector", default="unknown")
    im.add_argument("--max-length", type=int, default=128)
    im.add_argument("--id")
    im.set_defaults(fn=cmd_import)

    r = sub.add_parser("random-model", help="a model bundle with random weights (tests, benchmarks)")
    r.add_argument("--out", required=True)
    model_args(r)
    r.add_argument("--hashtags", type=int, default=20)
    r.add_argument("--hashtags-file")
    r.add_argument("--detector", default="unknown")
    r.add_argument("--id")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=cmd_random_model)

    def detector_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--out", required=True)
        sp.add_argument("--preset", default="r101", help="r101 (the real network) or tiny")
        sp.add_argument("--selection", default="caffe", choices=["caffe", "demo"],
                        help="caffe: LXMERT's pretraining features (default); demo: the HF demo's boxes")
        sp.add_argument("--config", help="JSON object of config overrides, e.g. '{\"min_size\": 800}'")
        sp.add_argument("--id")

    d = sub.add_parser("export-detector", help="a Faster R-CNN detector bundle with random weights")
    detector_args(d)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(fn=cmd_export_detector)

    di = sub.add_parser("import-detector", help="the public frcnn-vg-finetuned weights as a detector bundle")
    detector_args(di)
    di.add_argument("--checkpoint", required=True, help="pytorch_model.bin of unc-nlp/frcnn-vg-finetuned")
    di.set_defaults(fn=cmd_import_detector)

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

    s = sub.add_parser("synthetic", help="a synthetic dataset with visual, text and relation hashtags")
    s.add_argument("--out", required=True)
    s.add_argument("--posts", type=int, default=3000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--feature-dim", type=int, default=2048,
                   help="region feature size: 2048 as served; smaller trains faster (visual_feat_dim must match)")
    s.set_defaults(fn=cmd_synthetic)

    v = sub.add_parser("evaluate", help="metrics at k = 1..5 for one or several models, JSON and SVG plot")
    v.add_argument("--data", required=True)
    v.add_argument("--model", action="append", required=True, help="NAME=path/to/checkpoint.pt (repeatable)")
    v.add_argument("--split", default="test")
    v.add_argument("--out", required=True)
    v.set_defaults(fn=cmd_evaluate)

    args = p.parse_args(argv)
    try:
        args.fn(args)
    except ValueError as err:
        print(f"lxtag_engine: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
