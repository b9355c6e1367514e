"""`import`: the public checkpoints' layouts (HF folder, airsplay pretraining snapshot, airsplay VQA model) load
strictly into lxmert4hashtag; the HF LxmertModel key set from the reference loads strictly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lxtag_engine.importer import CheckpointError, import_checkpoint
from lxtag_engine.lxmert import Lxmert4Hashtag, LxmertConfig, LxmertModel

FIXTURE = Path(__file__).parent / "fixtures" / "lxmert_base_keys.tsv"
TINY = dict(vocab_size=40, hidden_size=32, num_attention_heads=2, intermediate_size=64, l_layers=2, x_layers=1,
            r_layers=1, max_position_embeddings=64)


def test_hf_lxmertmodel_key_set_from_the_reference_loads_strictly() -> None:
    rows = [line.split("\t") for line in FIXTURE.read_text().splitlines()]
    shapes = {name: tuple(int(x) for x in shape.split(",")) for name, shape in rows}
    assert len(shapes) == 449
    model = LxmertModel(LxmertConfig.preset("base"))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == shapes
    model.load_state_dict({k: torch.randn(s) for k, s in shapes.items()}, strict=True)


def encoder_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return Lxmert4Hashtag(LxmertConfig(**TINY), 3).lxmert.state_dict()


def write_vocab(path: Path) -> Path:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "sunset", "over", "the", "ocean", "dog", "##s"]
    words += [f"[unused{i}]" for i in range(TINY["vocab_size"] - len(words))]
    path.write_text("\n".join(words) + "\n")
    return path


def assert_same_encoder(model: Lxmert4Hashtag, weights: dict[str, torch.Tensor]) -> None:
    state = model.lxmert.state_dict()
    assert set(state) == set(weights)
    assert all(torch.equal(state[k], weights[k]) for k in weights)


def test_airsplay_pretraining_snapshot(tmp_path: Path) -> None:
    weights = encoder_weights()
    # LXRTPretraining saved from multi-GPU training: module.bert.* plus the pretraining heads
    state = {f"module.bert.{k}": v for k, v in weights.items()}
    state["module.cls.predictions.bias"] = torch.zeros(40)
    state["module.obj_predict_head.decoder_dict.obj.weight"] = torch.zeros(1600, 32)
    state["module.answer_head.logit_fc.3.weight"] = torch.zeros(9500, 64)
    torch.save(state, tmp_path / "Epoch20_LXRT.pth")
    model, tokenizer, report = import_checkpoint(tmp_path / "Epoch20_LXRT.pth", ["a", "b"],
                                                 write_vocab(tmp_path / "vocab.txt"), {"num_attention_heads": 2})
    assert_same_encoder(model, weights)
    assert (model.config.l_layers, model.config.x_layers, model.config.r_layers) == (2, 1, 1)  # from the keys
    assert report["dropped"] == ["answer_head", "cls", "obj_predict_head"]
    assert report["new"] == [f"answer_head.logit_fc.{i}.{p}" for i in (0, 2, 3) for p in ("weight", "bias")]
    assert tokenizer["post_processor"]["cls"] == ["[CLS]", 2] and tokenizer["model"]["vocab"]["ocean"] == 8


def test_airsplay_vqa_model(tmp_path: Path) -> None:
    weights = encoder_weights(1)
    state = {f"lxrt_encoder.model.bert.{k}": v for k, v in weights.items()}
    state["logit_fc.0.weight"] = torch.zeros(64, 32)
    torch.save(state, tmp_path / "BEST.pth")
    model, _, report = import_checkpoint(tmp_path / "BEST.pth", ["a"], write_vocab(tmp_path / "vocab.txt"),
                                         {"num_attention_heads": 2})
    assert_same_encoder(model, weights)
    assert report["dropped"] == ["logit_fc"]


def test_hf_folder_through_the_command(tmp_path: Path) -> None:
    weights = encoder_weights(2)
    folder = tmp_path / "lxmert-vqa-uncased"
    folder.mkdir()
    torch.save({**{f"lxmert.{k}": v for k, v in weights.items()},
                "answer_head.logit_fc.3.weight": torch.zeros(3129, 64)}, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps({**TINY, "model_type": "lxmert"}))
    write_vocab(folder / "vocab.txt")
    (tmp_path / "hashtags.txt").write_text("sunset\nocean\ndog\n")
    out = tmp_path / "bundle"
    done = subprocess.run([sys.executable, "-m", "lxtag_engine", "import", "--checkpoint", str(folder), "--out",
                           str(out), "--hashtags", str(tmp_path / "hashtags.txt")],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["event"] == "imported" and report["loaded"] == len(weights) and report["hashtags"] == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.onnx", "tokenizer.json"} and manifest["hashtags"] == ["sunset", "ocean", "dog"]
    assert manifest["config"]["l_layers"] == 2 and manifest["config"]["hidden_size"] == 32  # config.json honoured
    saved = torch.load(out / "checkpoint.pt")
    assert torch.equal(saved["state_dict"]["lxmert.pooler.dense.weight"], weights["pooler.dense.weight"])


def test_a_mismatch_names_the_keys(tmp_path: Path) -> None:
    weights = encoder_weights()
    del weights["encoder.x_layers.0.visual_attention.att.query.weight"]
    weights["encoder.x_layers.0.lang_cross.weight"] = torch.zeros(1)  # not LXMERT's layout
    torch.save({f"bert.{k}": v for k, v in weights.items()}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"missing \[encoder.x_layers.0.visual_attention.att.query.weight\]"):
        import_checkpoint(tmp_path / "bad.pth", ["a"], write_vocab(tmp_path / "vocab.txt"), {"num_attention_heads": 2})
    with pytest.raises(CheckpointError, match="--hashtags FILE is needed"):
        import_checkpoint(tmp_path / "bad.pth", None, write_vocab(tmp_path / "vocab.txt"), {"num_attention_heads": 2})
