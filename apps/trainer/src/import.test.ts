// `import` turns a HuggingFace LXMERT folder into a bundle the predict worker serves: the encoder and config from
// the folder, a tokenizer.json built from its vocab.txt, a new head with one output per hashtag.
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { type Feeds, HashtagModel, OrtSession } from "@lxtag/inference";
import { CaptionTokenizer } from "@lxtag/text";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { runEngine } from "./engine.js";

const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "sunset", "over", "the", "ocean", "dog", "##s"];
const HASHTAGS = ["sunset", "ocean", "dog"];
const CAPTIONS = ["sunset over the ocean", "dogs!"];

const engineConfig = loadConfig();
const devtools = (args: string[]) => runEngine(engineConfig, args, { module: "lxtag_engine.devtools" });

/** One graph's outputs on copies of the feeds (a run transfers its buffers to the inference thread). */
async function run(modelPath: string, feeds: Feeds) {
  const copy = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { ...t, data: t.data.slice() }]));
  const session = await OrtSession.create(modelPath);
  try {
    const out = await session.run(copy);
    return { logits: out.logits!.data as Float32Array, pooled: out.pooled!.data as Float32Array };
  } finally {
    await session.dispose();
  }
}

describe("import of a HuggingFace LXMERT folder", () => {
  it("writes a bundle that serves the source encoder under the new hashtags", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lxtag-import-"));
    // a stand-in for unc-nlp/lxmert-base-uncased: tiny random weights under HF names, config.json, vocab.txt
    await devtools(["random-model", "--out", join(dir, "random"), "--config", '{"vocab_size": 40}']);
    const config = JSON.parse(await readFile(join(dir, "random", "manifest.json"), "utf8")).config;
    const hf = join(dir, "hf");
    await mkdir(hf);
    await copyFile(join(dir, "random", "checkpoint.pt"), join(hf, "pytorch_model.bin"));
    await writeFile(join(hf, "config.json"), JSON.stringify({ ...config, model_type: "lxmert" }));
    const vocab = [...VOCAB, ...Array.from({ length: 40 - VOCAB.length }, (_, i) => `[unused${i}]`)];
    await writeFile(join(hf, "vocab.txt"), `${vocab.join("\n")}\n`);
    await writeFile(join(dir, "hashtags.txt"), `${HASHTAGS.join("\n")}\n`);
    const out = join(dir, "bundle");
    const report = JSON.parse(
      (
        await runEngine(engineConfig, [
          "import",
          "--checkpoint",
          hf,
          "--out",
          out,
          "--hashtags",
          join(dir, "hashtags.txt"),
        ])
      )
        .trim()
        .split("\n")
        .at(-1)!,
    );
    expect(report.event).toBe("imported");
    expect(report.new).toContain("answer_head.logit_fc.3.weight");

    const tokenizer = CaptionTokenizer.fromFile(join(out, "tokenizer.json"));
    const enc = await tokenizer.encodeBatch(["Sunset over the OCEAN, dogs!"]);
    // [CLS] sunset over the ocean [UNK](,) dog ##s [UNK](!) [SEP]
    expect([...enc.inputIds].map(Number)).toEqual([2, 5, 6, 7, 8, 1, 9, 10, 1, 3]);

    // the same posts through the source model's graph and the bundle's: captions plus fixed non-zero RoIs
    const b = CAPTIONS.length;
    const batch = await tokenizer.encodeBatch(CAPTIONS);
    const features = Float32Array.from({ length: b * NUM_BOXES * FEATURE_DIM }, (_, i) =>
      Math.abs(Math.sin(i)),
    );
    const boxes = Float32Array.from(
      { length: b * NUM_BOXES * 4 },
      (_, i) => (i % 4 < 2 ? 0.1 : 0.6) + (i % 7) / 20,
    );
    const feeds: Feeds = {
      input_ids: { type: "int64", dims: [b, batch.length], data: batch.inputIds },
      attention_mask: { type: "int64", dims: [b, batch.length], data: batch.attentionMask },
      token_type_ids: { type: "int64", dims: [b, batch.length], data: batch.tokenTypeIds },
      visual_feats: { type: "float32", dims: [b, NUM_BOXES, FEATURE_DIM], data: features },
      visual_pos: { type: "float32", dims: [b, NUM_BOXES, 4], data: boxes },
    };
    const source = await run(join(dir, "random", "model.onnx"), feeds);
    const bundle = await run(join(out, "model.onnx"), feeds);
    // the cross-modal [CLS] vector depends on every encoder weight: equal means loaded, not re-initialised
    expect(bundle.pooled.length).toBe(b * config.hidden_size);
    expect(Math.max(...bundle.pooled.map((v, i) => Math.abs(v - source.pooled[i]!)))).toBeLessThan(1e-5);
    expect(new Set(bundle.pooled).size).toBeGreaterThan(1);
    // the new head: one logit per hashtag, and they differ
    expect(bundle.logits.length).toBe(b * HASHTAGS.length);
    for (let i = 0; i < b; i++) expect(new Set(bundle.logits.subarray(i * 3, i * 3 + 3)).size).toBe(3);

    const model = await HashtagModel.load(out);
    try {
      expect(model.manifest.hashtags).toEqual(HASHTAGS);
      const ranked = await model.rank(
        CAPTIONS.map((text, i) => ({
          text,
          features: features.subarray(i * NUM_BOXES * FEATURE_DIM, (i + 1) * NUM_BOXES * FEATURE_DIM),
          boxes: boxes.subarray(i * NUM_BOXES * 4, (i + 1) * NUM_BOXES * 4),
        })),
        3,
      );
      // the served ranking is the graph's logits, in the manifest's hashtag order, through a sigmoid
      ranked.forEach((row, i) => {
        const logits = bundle.logits.subarray(i * 3, i * 3 + 3);
        const order = [0, 1, 2].sort((x, y) => logits[y]! - logits[x]!);
        expect(row.map((r) => r.hashtag)).toEqual(order.map((j) => HASHTAGS[j]));
        expect(row.map((r) => r.score)).toEqual(
          order.map((j) => expect.closeTo(1 / (1 + Math.exp(-logits[j]!)), 6)),
        );
      });
    } finally {
      await model.dispose();
    }
  }, 120_000);
});
