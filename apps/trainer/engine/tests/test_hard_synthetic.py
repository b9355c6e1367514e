"""The goal on data that behaves like real posts (Zipf hashtags, one photo posted many times, captions naming only
some of their hashtags, noisy labels): LXMERT4Hashtag, trained as the trainer trains it, beats the popularity
prior and a caption TF-IDF kNN at every k, and by a clear factor at k = 2. About two minutes on 2 CPU cores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import dataset as ds
from lxtag_engine import safetensors
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.metrics import ranking_metrics
from lxtag_engine.models import load_checkpoint
from lxtag_engine.neighbours import f1_by_k, fit_blend, make_bank, popularity_scores, score_split, tfidf_knn_scores
from lxtag_engine.synthetic import HardConfig, write_hard
from lxtag_engine.train import TrainConfig, train

POSTS = 3000
EPOCHS = 15
FACTOR = 1.15  # the best of lxmert4hashtag with or without the blend, over tfidf-knn, at F1@2
# measured, test F1@1..5 for data and training seeds 0 | 1 | 2 (15 epochs):
#   lxmert4hashtag  .483 .609 .601 .556 .504 | .467 .595 .587 .552 .500 | .461 .598 .592 .545 .493
#   tfidf-knn k=20  .305 .415 .433 .423 .404 | .318 .407 .445 .432 .405 | .320 .416 .431 .417 .391
#   popularity      .292 .351 .351 .328 .316 | .303 .374 .392 .353 .339 | .301 .362 .343 .322 .316
# so F1@2 is 1.47x | 1.46x | 1.44x tfidf-knn's, and the smallest lead at any k is .09 (k = 5). The neighbour blend
# gains under .01 val F1@2 on this data, so it is not kept. Training takes 80 s of one core; the file ran in 1 min
# 55 s on 2 shared cores. Not asserted: on seed 0 the trained `linear` TF-IDF model reaches .393 .469 .479 .454 .428
# and `concat` .484 .608 .596 .546 .499, level with lxmert4hashtag: with ~200 distinct training photos neither learns
# the relation hashtags in 15 epochs (decision F1 .21 vs .25), so here the image matters (visual F1 .85, linear
# .42) but cross-attention does not yet.


def model_config(vocab_size: int) -> dict:
    # test_learning.py's small model; 256-d region features instead of the served 2048 keep it to minutes
    return LxmertConfig.preset("tiny", vocab_size=vocab_size, hidden_size=64, num_attention_heads=4,
                               intermediate_size=128, initializer_range=0.05, visual_feat_dim=256).to_dict()


@pytest.fixture(scope="module")
def f1(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[float]]:
    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("hard")
    meta = write_hard(root / "data", HardConfig(posts=POSTS, seed=0, feature_dim=256))
    cfg = TrainConfig(model=model_config(meta["vocab_size"]), epochs=EPOCHS, batch_size=32, lr=5e-4, patience=EPOCHS)
    train(root / "data", root / "lxmert", cfg, log=lambda _: None)
    data = ds.load(root / "data")
    model, _ = load_checkpoint(root / "lxmert" / "checkpoint.pt")
    bank = make_bank(model, data.train)
    fit = fit_blend(model, data, bank)
    scored = score_split(model, data.test, bank, (fit["k"],))
    labels = np.asarray(data.test.labels)

    def by_k(scores: np.ndarray) -> list[float]:
        return [m["f1"] for m in ranking_metrics(scores, labels).values()]

    return {"lxmert4hashtag": list(f1_by_k(scored, fit["k"], 0.0).values()),
            "lxmert4hashtag+blend": list(f1_by_k(scored, fit["k"], fit["weight"]).values()),
            "popularity": by_k(popularity_scores(data.train, data.test)),
            "tfidf-knn": by_k(tfidf_knn_scores(data.train, data.test))}


def test_lxmert4hashtag_beats_popularity_and_tfidf_knn_at_every_k(f1: dict[str, list[float]]) -> None:
    for baseline in ("popularity", "tfidf-knn"):
        for k in range(5):
            assert f1["lxmert4hashtag"][k] > f1[baseline][k], (baseline, k + 1, f1)


def test_the_best_configuration_beats_tfidf_knn_by_a_clear_factor(f1: dict[str, list[float]]) -> None:
    best = max(f1["lxmert4hashtag"][1], f1["lxmert4hashtag+blend"][1])
    assert best >= FACTOR * f1["tfidf-knn"][1], f1


# --- the dataset itself: cheap, no training ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    write_hard(out, HardConfig(posts=600, seed=3, feature_dim=32))
    return out


def image_ids(folder: Path, split: str) -> np.ndarray:
    return np.asarray(json.loads(safetensors.read(folder / f"{split}.safetensors")[1]["image_ids"]))


def test_a_photo_never_appears_in_two_splits(small: Path) -> None:
    images = {s: set(image_ids(small, s).tolist()) for s in ("train", "val", "test")}
    assert not images["train"] & images["val"] and not images["train"] & images["test"] and not images["val"] & images["test"]
    # and the features say the same: no region block of one split occurs in another
    data = ds.load(small)
    seen = {s: {np.asarray(getattr(data, s).visual_feats[i]).tobytes() for i in range(len(getattr(data, s)))}
            for s in ("train", "val", "test")}
    assert not seen["train"] & seen["test"] and not seen["train"] & seen["val"]


def test_posts_of_one_photo_share_its_regions_and_photos_are_fewer_than_posts(small: Path) -> None:
    data = ds.load(small)
    ids = image_ids(small, "train")
    assert len(set(ids.tolist())) * 5 <= len(ids)
    first = np.flatnonzero(ids == ids[0])
    assert len(first) > 1
    feats, boxes = np.asarray(data.train.visual_feats), np.asarray(data.train.visual_pos)
    assert all(np.array_equal(feats[first[0]], feats[i]) and np.array_equal(boxes[first[0]], boxes[i]) for i in first)


def test_hashtag_frequencies_fall_off_like_zipf_and_the_top_one_is_common(small: Path) -> None:
    meta = json.loads((small / "dataset.json").read_text())
    freq = sorted(meta["frequency"].values(), reverse=True)
    assert freq[0] >= 0.35 and freq[0] >= 1.5 * freq[1] and freq[0] >= 3 * freq[4] and freq[-1] < 0.06, freq
    assert meta["captions"] == "hashtag-free" and meta["detector"] == "synthetic" and meta["feature_dim"] == 32
    assert set(meta["kinds"].values()) == {"visual", "text", "relation"}
    assert sum(meta["splits"].values()) == 600 and meta["vocab_size"] > 5
