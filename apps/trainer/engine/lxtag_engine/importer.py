"""`import`: a public LXMERT checkpoint as an lxtag model bundle (reference A.3, A.9; CONTRACTS.md 4).

Accepts a HuggingFace folder (`pytorch_model.bin`, `config.json`, `vocab.txt`, maybe `tokenizer.json`) of
`unc-nlp/lxmert-base-uncased`, `unc-nlp/lxmert-vqa-uncased` and the like, or an original airsplay/lxmert `.pth`
(`model_LXRT.pth`, `EpochXX_LXRT.pth`, or a fine-tuned `VQAModel`). The encoder loads strictly; the head is new.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .checkpoints import CheckpointError, load_strictly, modern_name, read_state_dict
from .lxmert import Lxmert4Hashtag, LxmertConfig

# prefixes under which checkpoints keep the bare LxmertModel, most specific first (reference A.9)
ENCODER_PREFIXES = ("lxrt_encoder.model.bert.", "bert.", "lxmert.")
ENCODER_ROOTS = ("embeddings.", "encoder.", "pooler.")
CONFIG_KEYS = ("vocab_size", "hidden_size", "num_attention_heads", "intermediate_size", "hidden_dropout_prob",
               "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size", "l_layers", "x_layers",
               "r_layers", "visual_feat_dim", "visual_pos_dim", "initializer_range")


def encoder_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The LxmertModel tensors of a checkpoint under its own names, and the keys left out (pretraining heads,
    the old answer head). Strips `module.` (multi-GPU saves) and renames old BERT `gamma`/`beta`."""
    encoder: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for key, value in state.items():
        name = modern_name(key[len("module."):] if key.startswith("module.") else key)
        for prefix in ENCODER_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        if name.startswith(ENCODER_ROOTS):
            encoder[name] = value
        else:
            dropped.append(key)
    return encoder, dropped


def infer_config(encoder: dict[str, torch.Tensor], hf: dict | None, overrides: dict) -> LxmertConfig:
    """Sizes from config.json where there is one (honouring l_layers, x_layers, r_layers), else from the tensors."""
    values: dict = {k: hf[k] for k in CONFIG_KEYS if hf and k in hf}
    if "vocab_size" not in values or "hidden_size" not in values:
        vocab, hidden = encoder["embeddings.word_embeddings.weight"].shape
        values.setdefault("vocab_size", int(vocab))
        values.setdefault("hidden_size", int(hidden))
    for field, pattern in (("l_layers", r"encoder\.layer\.(\d+)\."), ("x_layers", r"encoder\.x_layers\.(\d+)\."),
                           ("r_layers", r"encoder\.r_layers\.(\d+)\.")):
        if field not in values:
            values[field] = 1 + max((int(m.group(1)) for k in encoder if (m := re.match(pattern, k))), default=-1)
    if "intermediate_size" not in values and "encoder.layer.0.intermediate.dense.weight" in encoder:
        values["intermediate_size"] = int(encoder["encoder.layer.0.intermediate.dense.weight"].shape[0])
    if "max_position_embeddings" not in values:
        values["max_position_embeddings"] = int(encoder["embeddings.position_embeddings.weight"].shape[0])
    if "visual_feat_dim" not in values:
        values["visual_feat_dim"] = int(encoder["encoder.visn_fc.visn_fc.weight"].shape[1])
    values.setdefault("num_attention_heads", max(1, values["hidden_size"] // 64))  # BERT's 64-wide heads
    values.update(overrides)
    return LxmertConfig(**values)


def read_vocab(path: Path) -> list[str]:
    return [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines()]


def bert_tokenizer_json(vocab: list[str], lowercase: bool = True) -> dict:
    """A HuggingFace tokenizers file for a BERT vocab.txt: BERT normalizer and pre-tokenizer, WordPiece,
    `[CLS] ... [SEP]` post-processing (the layout `tokenizers` itself saves)."""
    ids = {token: i for i, token in enumerate(vocab)}
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
        if special not in ids:
            raise CheckpointError(f"vocab.txt has no {special} token")
    specials = [t for t in vocab if re.fullmatch(r"\[(PAD|UNK|CLS|SEP|MASK)\]", t)]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": lowercase, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", ids["[SEP]"]], "cls": ["[CLS]", ids["[CLS]"]]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def import_checkpoint(checkpoint: Path, hashtags: list[str] | None, vocab: Path | None,
                      overrides: dict) -> tuple[Lxmert4Hashtag, dict, dict]:
    """Returns (model, tokenizer.json content, report)."""
    hf: dict | None = None
    tokenizer: dict | None = None
    if checkpoint.is_dir():
        weights = checkpoint / "pytorch_model.bin"
        if not weights.exists():
            raise CheckpointError(f"{checkpoint} has no pytorch_model.bin")
        if (checkpoint / "config.json").exists():
            hf = json.loads((checkpoint / "config.json").read_text())
        if (checkpoint / "tokenizer.json").exists():
            tokenizer = json.loads((checkpoint / "tokenizer.json").read_text())
        vocab = vocab or (checkpoint / "vocab.txt" if (checkpoint / "vocab.txt").exists() else None)
    else:
        weights = checkpoint
    encoder, dropped = encoder_state(read_state_dict(weights))
    if not encoder:
        raise CheckpointError(f"{weights} holds no LXMERT encoder tensors (embeddings.*, encoder.*, pooler.*)")
    config = infer_config(encoder, hf, overrides)
    if tokenizer is None:
        if vocab is None:
            raise CheckpointError("no tokenizer.json or vocab.txt beside the checkpoint: pass --vocab path/to/vocab.txt "
                               "(bert-base-uncased's, which LXMERT uses)")
        words = read_vocab(vocab)
        if len(words) != config.vocab_size:
            raise CheckpointError(f"{vocab} has {len(words)} tokens, the checkpoint's embeddings {config.vocab_size}")
        tokenizer = bert_tokenizer_json(words, lowercase=bool(hf.get("do_lower_case", True)) if hf else True)
    if not hashtags:
        raise CheckpointError("--hashtags FILE is needed: the head gets one output per line of it")
    model = Lxmert4Hashtag(config, len(hashtags))
    load_strictly(model.lxmert, encoder, f"the encoder in {weights} (read as {config})")
    model.eval()
    report = {"checkpoint": str(checkpoint), "loaded": len(encoder), "config": config.to_dict(),
              "dropped": sorted({k.split(".")[0] if not k.startswith("module.") else k.split(".")[1]
                                 for k in dropped}),
              "dropped_tensors": len(dropped),
              "new": [k for k in model.state_dict() if k.startswith("answer_head.")], "hashtags": len(hashtags)}
    return model, tokenizer, report
