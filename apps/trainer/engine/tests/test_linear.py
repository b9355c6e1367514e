"""The linear TF-IDF model: its logits are the normalised TF-IDF vector times W plus b, computed without a (B, V)
vector; its idf comes from the training split and survives a checkpoint; its pooled vector is a fixed hashing of
the same TF-IDF vector; and it learns a caption-word hashtag."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import safetensors
from lxtag_engine.baselines import HASH_WIDTH, TfidfLinear, document_frequency
from lxtag_engine.dataset import Split
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.models import build_model, load_checkpoint, save_checkpoint
from lxtag_engine.train import TrainConfig, train, warm_start

VOCAB = 30


@pytest.fixture(autouse=True)
def few_threads() -> None:
    torch.set_num_threads(1)


def split_of(ids: list[list[int]], labels: list[list[int]]) -> Split:
    """A split of captions padded with 0, images blank."""
    length = max(map(len, ids))
    padded = np.array([row + [0] * (length - len(row)) for row in ids], np.int32)
    n = len(ids)
    return Split(padded, (padded > 0).astype(np.uint8), np.zeros((n, 36, 8), np.float16),
                 np.zeros((n, 36, 4), np.float32), np.array(labels, np.uint8))


def model(num_hashtags: int = 3) -> TfidfLinear:
    return build_model("linear", LxmertConfig.preset("tiny", vocab_size=VOCAB, visual_feat_dim=8).to_dict(), num_hashtags)  # type: ignore[return-value]


def dense_tfidf(row: torch.Tensor, mask: torch.Tensor, idf: torch.Tensor) -> torch.Tensor:
    """The reference: a (V,) count vector times idf, L2-normalised."""
    counts = torch.zeros(VOCAB).index_add_(0, row[mask.bool()], torch.ones(int(mask.sum())))
    v = counts * idf
    return v / v.norm().clamp_min(1e-12)


def run(m: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    b = ids.shape[0]
    return m(ids, mask, torch.zeros_like(ids), torch.zeros(b, 36, 8), torch.zeros(b, 36, 4))


TRAIN = split_of([[2, 7, 7, 9, 3], [2, 7, 8, 3], [2, 10, 3], [2, 11, 11, 3]], [[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1]])


def test_fit_data_sets_smoothed_idf_and_zero_for_special_and_unseen_tokens() -> None:
    m = model()
    m.fit_data(TRAIN)
    n = 4
    assert torch.allclose(m.idf[7], torch.tensor(math.log((1 + n) / (1 + 2)) + 1))  # in two posts, once counted each
    assert torch.allclose(m.idf[9], torch.tensor(math.log((1 + n) / (1 + 1)) + 1))
    assert torch.equal(m.idf[:5], torch.zeros(5))  # [PAD] [UNK] [CLS] [SEP] [MASK]
    assert float(m.idf[20]) == 0.0  # no training post holds it
    p = (np.array([2, 1, 1]) + 0.5) / (n + 1)
    assert torch.allclose(m.hashtag_bias, torch.from_numpy(np.log(p / (1 - p))).float())


def test_document_frequency_counts_posts_not_occurrences_and_ignores_padding() -> None:
    df = document_frequency(TRAIN.input_ids, TRAIN.attention_mask, VOCAB)
    assert df[7] == 2 and df[11] == 1 and df[2] == 4 and df[0] == 0
    with pytest.raises(ValueError, match="outside the vocabulary"):
        document_frequency(np.array([[2, 40]]), np.ones((1, 2), np.uint8), VOCAB)


def test_logits_and_pooled_match_the_dense_tfidf_vector() -> None:
    m = model()
    m.fit_data(TRAIN)
    torch.nn.init.normal_(m.hashtag_weight)
    ids = torch.tensor([[2, 7, 7, 9, 3, 0, 0], [2, 8, 12, 12, 12, 3, 0], [2, 3, 0, 0, 0, 0, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        logits, pooled = run(m, ids, mask)
    assert pooled.shape == (3, min(VOCAB, HASH_WIDTH))
    for i in range(3):
        v = dense_tfidf(ids[i], mask[i], m.idf)
        assert torch.allclose(logits[i], m.hashtag_weight @ v + m.hashtag_bias, atol=1e-5)
        hashed = torch.zeros(pooled.shape[1]).index_add_(0, m.hash_bucket, v * m.hash_sign)
        assert torch.allclose(pooled[i], hashed, atol=1e-6)
    assert torch.equal(logits[2], m.hashtag_bias.detach()) and not pooled[2].any()  # only special tokens


def test_padding_and_word_order_do_not_change_the_outputs() -> None:
    m = model()
    m.fit_data(TRAIN)
    torch.nn.init.normal_(m.hashtag_weight)
    short = torch.tensor([[2, 7, 9, 7, 3]])
    long = torch.tensor([[2, 9, 7, 7, 3, 0, 0, 0]])
    with torch.no_grad():
        a, b = run(m, short, torch.ones_like(short)), run(m, long, (long > 0).long())
    assert torch.allclose(a[0], b[0], atol=1e-6) and torch.allclose(a[1], b[1], atol=1e-6)


def test_idf_and_hashing_survive_a_checkpoint(tmp_path: Path) -> None:
    m = model()
    m.fit_data(TRAIN)
    c = m.config.to_dict()
    save_checkpoint(tmp_path / "c.pt", m, "linear", c, ["a", "b", "c"])
    loaded, _ = load_checkpoint(tmp_path / "c.pt")
    for name in ("idf", "hash_bucket", "hash_sign", "hashtag_bias"):
        assert torch.equal(getattr(loaded, name), getattr(m, name)), name
    assert torch.equal(model().hash_bucket, m.hash_bucket)  # the hashing is fixed, not drawn from the global seed


def test_learns_the_caption_word_hashtag(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 96
    word = rng.integers(0, 3, n)
    ids = np.stack([np.full(n, 2), 10 + word, 5 + rng.integers(0, 5, n), np.full(n, 3)], 1).astype(np.int32)
    labels = np.eye(3, dtype=np.uint8)[word]
    for name, sl in (("train", slice(0, 64)), ("val", slice(64, n))):
        m = sl.stop - sl.start
        safetensors.write(tmp_path / f"{name}.safetensors", {
            "input_ids": ids[sl], "attention_mask": np.ones_like(ids[sl], np.uint8), "labels": labels[sl],
            "visual_feats": np.zeros((m, 36, 8), np.float16), "visual_pos": np.zeros((m, 36, 4), np.float32)})
    (tmp_path / "dataset.json").write_text(json.dumps({"id": "w", "hashtags": ["a", "b", "c"], "detector": "d"}))
    cfg = TrainConfig(architecture="linear", model=model().config.to_dict(), epochs=5, batch_size=16, lr=0.1)
    result = train(tmp_path, tmp_path / "out", cfg, log=lambda _: None)
    assert result["val"]["1"]["precision"] == 1.0


def test_warm_start_moves_weight_rows_with_their_hashtags(tmp_path: Path) -> None:
    old = model()
    old.fit_data(TRAIN)
    torch.nn.init.normal_(old.hashtag_weight)
    save_checkpoint(tmp_path / "old.pt", old, "linear", old.config.to_dict(), ["a", "b", "c"])
    new = model(2)
    warm_start(new, ["c", "new"], tmp_path / "old.pt")
    assert torch.equal(new.hashtag_weight[0], old.hashtag_weight[2]) and not new.hashtag_weight[1].any()
    assert torch.equal(new.hashtag_bias[0], old.hashtag_bias[2]) and torch.equal(new.idf, old.idf)
