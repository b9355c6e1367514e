// The exported ONNX graph run by onnxruntime-node (through the serving OrtSession) matches the engine's PyTorch
// outputs on fixed inputs, for the tiny config and for a base-width model with one layer of each kind.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OrtSession } from "@lxtag/inference";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { runEngine } from "./engine.js";

const engineConfig = loadConfig();
const devtools = (args: string[]) => runEngine(engineConfig, args, { module: "lxtag_engine.devtools" });

/** Exports a random model of `preset` and compares ORT's outputs with PyTorch's; the folder goes afterwards. */
async function parity(preset: string, config: object) {
  const dir = await mkdtemp(join(tmpdir(), "lxtag-parity-")); // a quarter of a gigabyte at base width
  try {
    return await compare(dir, preset, config);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function compare(dir: string, preset: string, config: object) {
  await devtools([
    "random-model",
    "--out",
    dir,
    "--preset",
    preset,
    "--config",
    JSON.stringify(config),
    "--hashtags",
    "17",
  ]);
  await devtools(["parity", "--checkpoint", join(dir, "checkpoint.pt"), "--out", join(dir, "parity.json")]);
  const p = JSON.parse(await readFile(join(dir, "parity.json"), "utf8"));
  const session = await OrtSession.create(join(dir, "model.onnx"));
  const i64 = (xs: number[]) => BigInt64Array.from(xs.map(BigInt));
  const out = await session.run({
    input_ids: { type: "int64", dims: [p.B, p.L], data: i64(p.input_ids) },
    attention_mask: { type: "int64", dims: [p.B, p.L], data: i64(p.attention_mask) },
    token_type_ids: { type: "int64", dims: [p.B, p.L], data: new BigInt64Array(p.B * p.L) },
    visual_feats: {
      type: "float32",
      dims: [p.B, 36, p.visual_feats.length / p.B / 36],
      data: Float32Array.from(p.visual_feats),
    },
    visual_pos: { type: "float32", dims: [p.B, 36, 4], data: Float32Array.from(p.visual_pos) },
  });
  await session.dispose();
  const maxDiff = (a: Float32Array, b: number[]) => Math.max(...b.map((v, i) => Math.abs(v - a[i]!)));
  return {
    logits: maxDiff(out.logits!.data as Float32Array, p.logits),
    pooled: maxDiff(out.pooled!.data as Float32Array, p.pooled),
    n: p.logits.length,
  };
}

describe("ONNX Runtime (Node) vs PyTorch", () => {
  it("tiny: logits within 1e-4 (B = 3, padded L)", async () => {
    const d = await parity("tiny", { vocab_size: 300 });
    expect(d.n).toBe(3 * 17);
    expect(d.logits).toBeLessThan(1e-4);
    expect(d.pooled).toBeLessThan(1e-4);
  }, 120_000);
  it("base width (768 hidden, one layer of each kind): logits within 1e-4", async () => {
    const d = await parity("base", { l_layers: 1, x_layers: 1, r_layers: 1, vocab_size: 1000 });
    expect(d.logits).toBeLessThan(1e-4);
  }, 180_000);
});
