"""Nearest-neighbour scoring: the caption TF-IDF kNN baseline, the choice of the blend, and the blended model's
ONNX graph against PyTorch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lxtag_engine import dataset as ds
from lxtag_engine.export import export_model
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.models import build_model
from lxtag_engine.neighbours import Bank, BlendedModel, fit_blend, knn_vote, tfidf_knn_scores

REPO = Path(__file__).resolve().parents[4]


def split(captions: list[list[int]], labels: list[list[int]], feats: np.ndarray | None = None) -> ds.Split:
    """Posts from word ids (the [CLS] ... [SEP] frame and padding added here)."""
    length = max(len(c) for c in captions) + 2
    ids = np.zeros((len(captions), length), np.int32)
    for i, c in enumerate(captions):
        ids[i, :len(c) + 2] = [2, *c, 3]
    n = len(captions)
    feats = np.zeros((n, 36, 8), np.float16) if feats is None else feats
    return ds.Split(ids, (ids > 0).astype(np.uint8), feats, np.zeros((n, 36, 4), np.float32),
                    np.asarray(labels, np.uint8))


TRAIN = split([[10, 11, 12], [20, 21], [20, 22, 23], [30, 31, 10], [40]],
              [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 1, 0, 1]])


def test_a_caption_seen_in_training_ranks_that_posts_hashtags_first() -> None:
    scores = tfidf_knn_scores(TRAIN, split([[20, 22, 23]], [[0, 0, 0, 0]]), k=2)
    assert set(np.argsort(-scores[0])[:2]) == {1, 2}, scores
    scores = tfidf_knn_scores(TRAIN, split([[10, 11, 12]], [[0, 0, 0, 0]]), k=1)
    assert np.argmax(scores[0]) == 0 and scores[0, 0] == pytest.approx(1.0, abs=1e-5), scores


def test_a_caption_without_a_shared_word_falls_back_to_popularity() -> None:
    scores = tfidf_knn_scores(TRAIN, split([[99, 98], []], [[0, 0, 0, 0]] * 2), k=3)
    popularity = np.asarray(TRAIN.labels).mean(axis=0)
    for row in scores:
        assert list(np.argsort(-row, kind="stable")) == list(np.argsort(-popularity, kind="stable")), row
        assert row.max() < 1e-5  # a prior, not a vote


def test_rare_words_outweigh_common_ones() -> None:
    # the query shares its common word with three one-word posts (tag 0) and its rare word with one (tag 1): by
    # term frequency alone the four tie, by TF-IDF the rare word's post is the nearest
    train = split([[50], [50], [50], [60]], [[1, 0], [1, 0], [1, 0], [0, 1]])
    scores = tfidf_knn_scores(train, split([[50, 60]], [[0, 0]]), k=1)
    assert np.argmax(scores[0]) == 1, scores


def test_scores_do_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    train = split([list(rng.integers(5, 60, 8)) for _ in range(200)], rng.integers(0, 2, (200, 6)).tolist())
    query = split([list(rng.integers(5, 60, 8)) for _ in range(50)], rng.integers(0, 2, (50, 6)).tolist())
    whole = tfidf_knn_scores(train, query, k=7)
    monkeypatch.setattr("lxtag_engine.neighbours.PAIR_BUDGET", 100)
    np.testing.assert_allclose(tfidf_knn_scores(train, query, k=7), whole, rtol=1e-6, atol=1e-9)


# --- the blend --------------------------------------------------------------------------------------------------


CONFIG = LxmertConfig.preset("tiny", vocab_size=40, visual_feat_dim=16).to_dict()


def tiny_model(hashtags: int = 4, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("lxmert4hashtag", CONFIG, hashtags).eval()


def random_split(n: int, rng: np.random.Generator, hashtags: int = 4) -> ds.Split:
    return split([list(rng.integers(5, 40, 6)) for _ in range(n)], rng.integers(0, 2, (n, hashtags)).tolist(),
                 rng.normal(size=(n, 36, 16)).astype(np.float16))


def test_knn_vote_is_the_similarity_weighted_share() -> None:
    bank = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]]), dim=-1)
    labels = torch.tensor([[1, 0], [0, 1], [1, 1]], dtype=torch.uint8)
    vote = knn_vote(torch.tensor([[2.0, 0.0]]), bank, labels, k=2)  # sims 1.0 and 0.6
    torch.testing.assert_close(vote, torch.tensor([[1.0 / 1.6, 0.6 / 1.6]]))
    everyone = knn_vote(torch.tensor([[2.0, 0.0]]), bank, labels, k=3)  # the anti-similar post weighs 0
    torch.testing.assert_close(everyone, vote)


class Probe(torch.nn.Module):
    """A stand-in model: its logits read the first region's features (where a test writes what it should say) and
    its pooled vector is the second region's (where a test writes where the post sits among its neighbours)."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return visual_feats[:, 0, :4], visual_feats[:, 1, :8]


def probe_split(logits: np.ndarray, pooled: np.ndarray, labels: np.ndarray) -> ds.Split:
    feats = np.zeros((len(labels), 36, 8), np.float16)
    feats[:, 0, :4], feats[:, 1] = logits, pooled
    return split([[5 + i % 30] for i in range(len(labels))], labels.tolist(), feats)


def test_the_blend_is_not_kept_when_neighbours_only_hurt() -> None:
    # perfect logits; pooled vectors unrelated to the labels: any weight on the neighbours lowers val F1@2
    rng = np.random.default_rng(0)
    train_labels, val_labels = rng.integers(0, 2, (80, 4)), rng.integers(0, 2, (40, 4))
    train = probe_split(rng.normal(size=(80, 4)), rng.normal(size=(80, 8)), train_labels)
    val = probe_split(val_labels * 8.0 - 4, rng.normal(size=(40, 8)), val_labels)
    fit = fit_blend(Probe(), ds.Dataset({"hashtags": list("abcd")}, train, val, None))
    assert fit["kept"] is False and fit["weight"] == 0.0, fit
    assert fit["val_f1_at_2_with"] == fit["val_f1_at_2_without"] and fit["bank"] == 80, fit


def test_the_blend_is_kept_when_neighbours_know_better() -> None:
    # uninformative logits; each val post's nearest training post (in pooled space) carries its labels
    rng = np.random.default_rng(1)
    labels, pooled = rng.integers(0, 2, (60, 4)), rng.normal(size=(60, 8))
    train = probe_split(np.zeros((60, 4)), pooled, labels)
    val = probe_split(np.zeros((60, 4)), pooled + rng.normal(scale=0.01, size=pooled.shape), labels)
    fit = fit_blend(Probe(), ds.Dataset({"hashtags": list("abcd")}, train, val, None), ks=(1, 5))
    assert fit["kept"] is True and fit["weight"] > 0 and fit["k"] == 1, fit
    assert fit["val_f1_at_2_with"] > fit["val_f1_at_2_without"] + 0.2, fit


def run_onnx(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """ONNX Runtime on the graph: the Python package where installed, else onnxruntime-node, which serves the
    bundles in production; skips when neither is available."""
    try:
        import onnxruntime as ort  # type: ignore[import-not-found]

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return dict(zip(["logits", "pooled"], session.run(["logits", "pooled"], inputs)))
    except ImportError:
        pass
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip("neither the onnxruntime Python package nor node with onnxruntime-node is installed")
    feeds = {k: {"type": "int64" if v.dtype == np.int64 else "float32", "dims": list(v.shape), "data": v.ravel().tolist()}
             for k, v in inputs.items()}
    script = """
const ort = require('onnxruntime-node');
const feeds = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  const s = await ort.InferenceSession.create(process.argv[1]);
  const t = {};
  for (const [k, v] of Object.entries(feeds))
    t[k] = new ort.Tensor(v.type, v.type === 'int64' ? BigInt64Array.from(v.data.map(BigInt)) : Float32Array.from(v.data), v.dims);
  const out = await s.run(t);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, {dims: v.dims, data: Array.from(v.data)}]))));
})();
"""
    done = subprocess.run([node, "-e", script, str(path)], input=json.dumps(feeds), capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=True)
    out = json.loads(done.stdout)
    return {k: np.asarray(v["data"], np.float32).reshape(v["dims"]) for k, v in out.items()}


def test_the_blended_model_exports_and_onnx_runtime_matches_pytorch(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = tiny_model(hashtags=5)
    train = random_split(30, rng, hashtags=5)
    vectors = torch.nn.functional.normalize(torch.randn(30, 32), dim=-1).numpy()
    model = BlendedModel(base, Bank(vectors, np.asarray(train.labels)), k=50, weight=0.4).eval()  # k > bank: guarded
    assert model.k == 30
    manifest = export_model(model, tmp_path, architecture="lxmert4hashtag", config=CONFIG,
                            hashtags=list("abcde"), detector="d")
    assert manifest["architecture"] == "lxmert4hashtag"
    b = random_split(3, rng, hashtags=5).batch(np.arange(3))  # another batch size than the export's example
    inputs = {k: b[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids", "visual_feats", "visual_pos")}
    with torch.no_grad():
        logits, pooled = model(*(b[k] for k in inputs))
    out = run_onnx(tmp_path / "model.onnx", inputs)
    np.testing.assert_allclose(out["logits"], logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(out["pooled"], pooled.numpy(), atol=1e-4)
    # the served probabilities are the blend
    with torch.no_grad():
        plain, _ = base(*(b[k] for k in inputs))
    p = torch.sigmoid(torch.from_numpy(out["logits"]))
    assert not torch.allclose(p, torch.sigmoid(plain), atol=1e-3)
    assert bool(torch.all(p >= 0.6 * torch.sigmoid(plain) - 1e-5))  # (1 - w) p_model + w knn, knn >= 0


def test_the_blend_command_prints_one_line_and_writes_a_bundle_only_when_kept(tmp_path: Path) -> None:
    from lxtag_engine.models import save_checkpoint
    from lxtag_engine.synthetic import HardConfig, write_hard

    meta = write_hard(tmp_path / "data", HardConfig(posts=300, seed=0, feature_dim=16))
    config = LxmertConfig.preset("tiny", vocab_size=meta["vocab_size"], visual_feat_dim=16).to_dict()
    torch.manual_seed(0)
    model = build_model("lxmert4hashtag", config, len(meta["hashtags"]))
    save_checkpoint(tmp_path / "checkpoint.pt", model, "lxmert4hashtag", config, meta["hashtags"])
    done = subprocess.run([sys.executable, "-m", "lxtag_engine", "blend", "--data", str(tmp_path / "data"), "--checkpoint",
                           str(tmp_path / "checkpoint.pt"), "--out", str(tmp_path / "bundle")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300, check=True)
    [line] = [json.loads(s) for s in done.stdout.splitlines()]
    assert line["event"] == "blend" and line["bank"] == meta["splits"]["train"], line
    assert set(line["test"]["without"]) == set(line["test"]["with"]) == {"1", "2", "3", "4", "5"}
    if line["kept"]:
        manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
        assert manifest["blend"]["weight"] == line["weight"] > 0 and manifest["architecture"] == "lxmert4hashtag"
        assert manifest["detector"] == "synthetic"
    else:
        assert line["weight"] == 0 and not (tmp_path / "bundle").exists()
