"""Learning: on the synthetic data, LXMERT4Hashtag beats every baseline on F1@2 of the held-out split, because it
alone learns the relation hashtags (the caption names what the one anchor region shows). A few minutes on CPU."""

from __future__ import annotations


import pytest
import torch

from lxtag_engine import synthetic
from lxtag_engine.evaluate import evaluate
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.train import TrainConfig, train

# the same small model and schedule for all four (hidden 64: the 32-wide tiny preset learns the visual or the
# relation hashtags, rarely both, in this budget)
# 256-d region features instead of the served 2048 keep the run to a few minutes; the task is the same
MODEL = LxmertConfig.preset("tiny", vocab_size=40, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                            initializer_range=0.05, visual_feat_dim=256).to_dict()
# the four this test was written for: the linear TF-IDF model has its own tests (test_linear.py)
ARCHITECTURES = ("lxmert4hashtag", "popularity", "text-only", "concat")
MARGIN = 0.08  # measured: 0.79 vs 0.65 (concat), 0.45 (text-only), 0.12 (popularity)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("learning")
    synthetic.write(root / "data", 2000, seed=0, feature_dim=256)
    checkpoints = {}
    for arch in ARCHITECTURES:
        cfg = TrainConfig(architecture=arch, model=MODEL, epochs=20, batch_size=32, lr=5e-4, patience=20)
        train(root / "data", root / arch, cfg, log=lambda _: None)
        checkpoints[arch] = root / arch / "checkpoint.pt"
    return evaluate(root / "data", checkpoints, "test")


def test_lxmert4hashtag_beats_every_baseline_on_f1_at_2(results: dict) -> None:
    f1 = {name: r["metrics"]["2"]["f1"] for name, r in results.items()}
    for baseline in ("concat", "text-only", "popularity"):
        assert f1["lxmert4hashtag"] >= f1[baseline] + MARGIN, f1


def test_only_cross_attention_learns_the_relation(results: dict) -> None:
    kinds = {name: r["f1_by_kind"] for name, r in results.items()}
    assert kinds["lxmert4hashtag"]["relation"] >= 0.7, kinds
    assert kinds["concat"]["relation"] <= 0.3, kinds  # a mean-pooled image cannot tell which region is the anchor
    assert kinds["concat"]["visual"] >= 0.9 and kinds["lxmert4hashtag"]["visual"] >= 0.9, kinds
    assert kinds["text-only"]["text"] >= 0.9 and kinds["text-only"]["visual"] <= 0.1, kinds
