"""What both command lines share (`python3 -m lxtag_engine`, `python3 -m lxtag_engine.devtools`): the model and
detector arguments, how they become configs, and how a command's `ValueError` reaches the caller."""

from __future__ import annotations

import argparse
import json
import sys

from .frcnn import FrcnnConfig
from .lxmert import LxmertConfig


def model_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--arch", default="lxmert4hashtag")
    sp.add_argument("--preset", default="tiny", help="base (the paper's sizes) or tiny")
    sp.add_argument("--config", help="JSON object of config overrides, e.g. '{\"vocab_size\": 8000}'")


def model_config(args: argparse.Namespace) -> dict:
    overrides = json.loads(args.config) if args.config else {}
    return LxmertConfig.preset(args.preset, **overrides).to_dict()


def detector_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--out", required=True)
    sp.add_argument("--preset", default="r101", help="r101 (the real network) or tiny")
    sp.add_argument("--selection", default="caffe", choices=["caffe", "demo"],
                    help="caffe: LXMERT's pretraining features (default); demo: the HF demo's boxes")
    sp.add_argument("--config", help="JSON object of config overrides, e.g. '{\"min_size\": 800}'")
    sp.add_argument("--id")


def detector_config(args: argparse.Namespace) -> FrcnnConfig:
    overrides = json.loads(args.config) if args.config else {}
    return FrcnnConfig.preset(args.preset, selection=args.selection, **overrides)


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> None:
    """Parses and runs the chosen sub-command (its `fn`); a `ValueError` is a bad input, not a crash: one line on
    stderr and exit status 2, which the Node side reports as is."""
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except ValueError as err:
        print(f"lxtag_engine: {err}", file=sys.stderr)
        sys.exit(2)
