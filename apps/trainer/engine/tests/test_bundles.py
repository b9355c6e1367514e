"""Every architecture exports a bundle the predict worker can serve: the five inputs of CONTRACTS.md 4 (also
those a baseline never reads), outputs `logits` and `pooled`, and ONNX Runtime agrees with PyTorch at several
batch sizes and caption lengths."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from lxtag_engine.dataset import Split
from lxtag_engine.export import MODEL_INPUTS, export_model
from lxtag_engine.lxmert import LxmertConfig
from lxtag_engine.models import ARCHITECTURES, build_model, fit_data

VOCAB, HASHTAGS = 60, 7
SHAPES = ((1, 5), (3, 17))  # (B, L): other than the export's example (2, 12)


def random_split(n: int = 24, length: int = 10, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, VOCAB, (n, length)).astype(np.int32)
    ids[:, 0], ids[:, -1] = 2, 3
    return Split(ids, np.ones((n, length), np.uint8), rng.random((n, 36, 2048)).astype(np.float16),
                 rng.random((n, 36, 4)).astype(np.float32), (rng.random((n, HASHTAGS)) < 0.3).astype(np.uint8))


def inputs(b: int, length: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, VOCAB, (b, length)).astype(np.int64)
    mask = np.ones((b, length), np.int64)
    mask[0, length - 2:] = 0  # a padded row
    ids[:, :3] = rng.integers(5, 12, (b, 3))  # repeated tokens in every caption
    return {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": np.zeros_like(ids),
            "visual_feats": rng.random((b, 36, 2048)).astype(np.float32),
            "visual_pos": np.sort(rng.random((b, 36, 4)).astype(np.float32), axis=-1)}


@pytest.fixture(scope="module", params=ARCHITECTURES)
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    arch = request.param
    config = LxmertConfig.preset("tiny", vocab_size=VOCAB).to_dict()
    model = build_model(arch, config, HASHTAGS)
    fit_data(model, random_split())
    for p in model.parameters():  # away from zero-initialised weights, so the parity is not trivially true
        p.data.add_(torch.randn_like(p) * 0.05)
    model.eval()
    out = tmp_path_factory.mktemp(arch)
    export_model(model, out, architecture=arch, config=config, hashtags=[f"t{i}" for i in range(HASHTAGS)],
                 detector="d")
    return model, out / "model.onnx"


def test_graph_has_the_contract_inputs_and_outputs(bundle: tuple[torch.nn.Module, Path]) -> None:
    assert not any(m.training for m in bundle[0].modules())  # the export leaves the model as it found it
    graph = onnx.load(str(bundle[1])).graph
    assert [i.name for i in graph.input] == MODEL_INPUTS
    assert [o.name for o in graph.output] == ["logits", "pooled"]


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed for python3")
def test_onnx_runtime_matches_pytorch(bundle: tuple[torch.nn.Module, Path]) -> None:
    import onnxruntime

    model, path = bundle
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == MODEL_INPUTS
    for seed, (b, length) in enumerate(SHAPES):
        feeds = inputs(b, length, seed)
        logits, pooled = session.run(["logits", "pooled"], feeds)
        with torch.no_grad():
            expected = model(*(torch.from_numpy(feeds[name]) for name in MODEL_INPUTS))
        assert logits.shape == (b, HASHTAGS) and pooled.shape[0] == b
        np.testing.assert_allclose(logits, expected[0].numpy(), atol=1e-4)
        np.testing.assert_allclose(pooled, expected[1].numpy(), atol=1e-4)
