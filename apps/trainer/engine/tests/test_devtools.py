"""`python3 -m lxtag_engine.devtools`: the test and benchmark tools run on tiny configs and write what their callers
(the Node parity tests, the benchmark) read; the production command line no longer offers them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import devtools
from lxtag_engine.detect import detect
from lxtag_engine.frcnn import FrcnnConfig, build_detector, save_detector
from lxtag_engine.models import load_checkpoint

ENGINE = Path(__file__).parent.parent
TINY = json.dumps({"vocab_size": 40, "visual_feat_dim": 16})


def engine(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ENGINE)}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ENGINE, env=env)


def test_the_tools_left_the_production_command_line() -> None:
    def commands(module: str) -> list[str]:
        done = engine(module, "--help")
        assert done.returncode == 0, done.stderr
        return re.search(r"\{([^}]*)\}", done.stdout).group(1).split(",")  # usage: ... {train,export,...}

    assert commands("lxtag_engine.devtools") == ["random-model", "detect", "parity", "speed"]
    assert commands("lxtag_engine") == ["train", "export", "import", "export-detector", "import-detector",
                                        "synthetic", "blend", "evaluate"]
    gone = engine("lxtag_engine", "random-model", "--out", "x")
    assert gone.returncode == 2 and "invalid choice: 'random-model'" in gone.stderr


def test_random_model_then_parity(tmp_path: Path) -> None:
    (tmp_path / "hashtags.txt").write_text("sunset\n\nocean\ndog\n")
    done = engine("lxtag_engine.devtools", "random-model", "--out", str(tmp_path), "--config", TINY,
                  "--hashtags-file", str(tmp_path / "hashtags.txt"), "--id", "m1", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"event": "exported", "id": "m1", "out": str(tmp_path)}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["hashtags"] == ["sunset", "ocean", "dog"]  # blank lines dropped, order kept
    assert manifest["config"]["vocab_size"] == 40 and manifest["config"]["hidden_size"] == 32  # tiny + overrides

    devtools.main(["parity", "--checkpoint", str(tmp_path / "checkpoint.pt"), "--out", str(tmp_path / "p.json")])
    p = json.loads((tmp_path / "p.json").read_text())
    b, length = p["B"], p["L"]
    mask = torch.tensor(p["attention_mask"]).view(b, length)
    assert mask.sum(1).tolist() == [9, 6, 3]  # the padded rows the parity test relies on
    # the JSON's flat lists, reshaped as the Node test does, give back the outputs of the saved model
    model, _ = load_checkpoint(tmp_path / "checkpoint.pt")
    ids = torch.tensor(p["input_ids"]).view(b, length)
    feats = torch.tensor(p["visual_feats"]).view(b, 36, 16)
    pos = torch.tensor(p["visual_pos"]).view(b, 36, 4)
    with torch.no_grad():
        logits, pooled = model(ids, mask, torch.zeros_like(ids), feats, pos)
    assert torch.allclose(logits.flatten(), torch.tensor(p["logits"]), atol=1e-6) and logits.shape == (3, 3)
    assert torch.allclose(pooled.flatten(), torch.tensor(p["pooled"]), atol=1e-6)


def test_speed_prints_one_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devtools.main(["random-model", "--out", str(tmp_path), "--config", TINY, "--hashtags", "4"])
    capsys.readouterr()
    devtools.main(["speed", "--checkpoint", str(tmp_path / "checkpoint.pt"), "--batch", "2", "--length", "8",
                   "--iters", "2", "--threads", "1"])
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("batch", "length", "threads")} == {"batch": 2, "length": 8, "threads": 1}
    assert out["posts_per_s"] > 0


def test_detect_writes_the_reference_and_every_step(tmp_path: Path) -> None:
    model = build_detector(FrcnnConfig.preset("tiny", post_nms_topk=20), seed=0)
    save_detector(model, tmp_path / "detector.pt")
    rgb = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    rgb.tofile(tmp_path / "a.rgb")
    (tmp_path / "images.json").write_text(json.dumps([{"path": str(tmp_path / "a.rgb"), "width": 70, "height": 50}]))
    devtools.main(["detect", "--checkpoint", str(tmp_path / "detector.pt"), "--images", str(tmp_path / "images.json"),
                   "--threads", "1", "--dump", str(tmp_path / "steps"), "--out", str(tmp_path / "out.json")])
    [result] = json.loads((tmp_path / "out.json").read_text())
    expected = detect(model, rgb)
    assert result["num_real_boxes"] == expected.num_real_boxes == 20
    assert result["indices"] == expected.indices.tolist()
    assert np.allclose(result["boxes"], expected.boxes.flatten()) and len(result["features"]) == 36 * 2048
    for name in ("image", "res4", "rois", "features", "class_probs"):
        step = result["steps"][name]
        assert Path(step["path"]).stat().st_size == 4 * int(np.prod(step["dims"])), name


def test_a_bad_input_is_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        devtools.main(["random-model", "--out", str(tmp_path), "--preset", "huge"])
    assert exit.value.code == 2
    assert capsys.readouterr().err == "lxtag_engine: unknown LXMERT preset 'huge'; expected one of ['base', 'tiny']\n"
