"""python3 -m lxtag_engine <command>: files in, files out (CONTRACTS.md 3-6). Never touches Redis, Postgres or S3.
The tools only tests and benchmarks use (random-model, parity, speed, detect) are in `devtools`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import synthetic
from .cli import detector_args, detector_config, model_args, model_config, run
from .evaluate import evaluate, write_report
from .export import export_detector, export_model
from .frcnn import FasterRCNN, build_detector, load_detector_weights, save_detector
from .importer import import_checkpoint
from .models import load_checkpoint, save_checkpoint
from .train import TrainConfig, train

def cmd_train(args: argparse.Namespace) -> None:
    out = Path(args.out)
    cfg = TrainConfig(architecture=args.arch, model=model_config(args), epochs=args.epochs,
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


def _write_detector(model: FasterRCNN, args: argparse.Namespace, weights: str) -> None:
    out = Path(args.out)
    manifest = export_detector(model, out, preset=args.preset, weights=weights, detector_id=args.id)
    # the PyTorch weights stay beside the bundle (not in its files): parity checks and speed baselines load them
    save_detector(model, out / "detector.pt")
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": str(out), "weights": weights}))


def cmd_export_detector(args: argparse.Namespace) -> None:
    """A detector bundle with random weights: tests, benchmarks, and a fresh install without the public weights."""
    _write_detector(build_detector(detector_config(args), args.seed), args, "random")


def cmd_import_detector(args: argparse.Namespace) -> None:
    """The public `unc-nlp/frcnn-vg-finetuned` weights (pytorch_model.bin), loaded strictly, as a detector bundle."""
    model = load_detector_weights(detector_config(args), Path(args.checkpoint))
    _write_detector(model, args, f"checkpoint:{Path(args.checkpoint).name}")


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

    d = sub.add_parser("export-detector", help="a Faster R-CNN detector bundle with random weights")
    detector_args(d)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(fn=cmd_export_detector)

    di = sub.add_parser("import-detector", help="the public frcnn-vg-finetuned weights as a detector bundle")
    detector_args(di)
    di.add_argument("--checkpoint", required=True, help="pytorch_model.bin of unc-nlp/frcnn-vg-finetuned")
    di.set_defaults(fn=cmd_import_detector)

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

    run(p, argv)


if __name__ == "__main__":
    main()
