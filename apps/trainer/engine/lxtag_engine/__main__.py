"""python3 -m lxtag_engine <command>: files in, files out (CONTRACTS.md 3-6). Never touches Redis, Postgres or S3.
The tools only tests and benchmarks use (random-model, parity, speed, detect) are in `devtools`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import neighbours, synthetic
from .cli import detector_args, detector_config, model_args, model_config, run
from .evaluate import evaluate, write_report
from .export import export_detector, export_model
from .frcnn import FasterRCNN, build_detector, load_detector_weights, save_detector
from .importer import import_checkpoint
from .models import load_checkpoint, save_checkpoint, training_of
from .train import LOSSES, SELECT_ON, TrainConfig, train


def cmd_train(args: argparse.Namespace) -> None:
    out = Path(args.out)
    cfg = TrainConfig(architecture=args.arch, model=model_config(args), epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed, loss=args.loss,
                      select_on=args.select_on, mask_share=args.mask_share)
    result = train(Path(args.data), out, cfg, init=Path(args.init) if args.init else None,
                   log=lambda s: print(s, flush=True))
    meta = json.loads((Path(args.data) / "dataset.json").read_text())
    model, ckpt = load_checkpoint(out / "checkpoint.pt")
    metrics = {k: result[k] for k in ("val", "val_notags", "test", "test_notags") if k in result}
    dataset = {"id": meta.get("id"), **{s: meta.get("splits", {}).get(s, 0) for s in ("train", "val", "test")}}
    manifest = export_model(model, out, architecture=ckpt["architecture"], config=ckpt["config"],
                            hashtags=ckpt["hashtags"], detector=meta.get("detector", "unknown"),
                            max_length=meta.get("max_length", 128), metrics=metrics, dataset=dataset,
                            training=training_of(ckpt))
    print(json.dumps({"event": "exported", "id": manifest["id"], "out": str(out)}), flush=True)


def cmd_export(args: argparse.Namespace) -> None:
    model, ckpt = load_checkpoint(Path(args.checkpoint))
    manifest = export_model(model, Path(args.out), architecture=ckpt["architecture"], config=ckpt["config"],
                            hashtags=ckpt["hashtags"], detector=args.detector, training=training_of(ckpt))
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
    if args.hard:
        meta = synthetic.write_hard(Path(args.out), synthetic.HardConfig(posts=args.posts, seed=args.seed,
                                                                         feature_dim=args.feature_dim))
    else:
        meta = synthetic.write(Path(args.out), args.posts, args.seed, feature_dim=args.feature_dim)
    print(json.dumps({"event": "synthetic", "out": args.out, "splits": meta["splits"], "hashtags": len(meta["hashtags"]),
                      "hard": args.hard, **({"images": meta["images"]} if args.hard else {})}))


def cmd_blend(args: argparse.Namespace) -> None:
    """Blends a trained model with its training posts' labels (kNN in its pooled space); exports only if kept."""
    line = neighbours.blend_bundle(Path(args.data), Path(args.checkpoint), Path(args.out), args.detector, args.force)
    print(json.dumps(line), flush=True)


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
        print(f"{name:16} {_summary(r)}")
        if "notags" in r:
            print(f"{'  no hashtags':16} {_summary(r['notags'])}")


def _summary(report: dict) -> str:
    m = report["metrics"]["2"]
    kinds = " ".join(f"{k} {v:.3f}" for k, v in report.get("f1_by_kind", {}).items())
    over_all = f" R_all@2 {m['recall_all']:.3f} F1_all@2 {m['f1_all']:.3f}" if "recall_all" in m else ""
    return (f"P@2 {m['precision']:.3f} R@2 {m['recall']:.3f} F1@2 {m['f1']:.3f} acc@2 {m['accuracy']:.3f}{over_all}"
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
    t.add_argument("--loss", default="bce", choices=LOSSES,
                   help="bce: a sigmoid per hashtag (the paper's); softmax: cross-entropy over each post's labels")
    t.add_argument("--select-on", default="val", choices=SELECT_ON,
                   help="the split whose F1@2 picks the best epoch and stops early (both: the mean of the two)")
    t.add_argument("--mask-share", type=float, default=0.0,
                   help="share of training posts read with every hashtag removed from the caption, drawn per epoch "
                        "(needs train_notags shards)")
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
    s.add_argument("--hard", action="store_true",
                   help="like real posts: Zipf hashtags, shared images, partial captions, label noise")
    s.set_defaults(fn=cmd_synthetic)

    bl = sub.add_parser("blend", help="blend a checkpoint with kNN over its training posts; export if it helps")
    bl.add_argument("--data", required=True)
    bl.add_argument("--checkpoint", required=True)
    bl.add_argument("--out", required=True, help="bundle folder, written only when the blend is kept")
    bl.add_argument("--detector", help="detector id for the manifest (default: the dataset's)")
    bl.add_argument("--force", action="store_true",
                    help="export the best blend tried even when validation does not keep it (serving tests)")
    bl.set_defaults(fn=cmd_blend)

    v = sub.add_parser("evaluate", help="metrics at k = 1..5 for one or several models, JSON and SVG plot")
    v.add_argument("--data", required=True)
    v.add_argument("--model", action="append", required=True, help="NAME=path/to/checkpoint.pt (repeatable)")
    v.add_argument("--split", default="test", help="train, val or test (<split>_notags too, when present)")
    v.add_argument("--out", required=True)
    v.set_defaults(fn=cmd_evaluate)

    run(p, argv)


if __name__ == "__main__":
    main()
