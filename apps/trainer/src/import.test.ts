// `import` turns a HuggingFace LXMERT folder into a bundle the predict worker serves: the encoder and config from
// the folder, a tokenizer.json built from its vocab.txt, a new head with one output per hashtag.
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HashtagModel } from "@lxtag/predict-worker";
import { CaptionTokenizer } from "@lxtag/text";
import { describe, expect, it } from "vitest";
import { runEngine } from "./engine.js";

const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "sunset", "over", "the", "ocean", "dog", "##s"];

describe("import of a HuggingFace LXMERT folder", () => {
  it("writes a bundle whose tokenizer and model serve in Node", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lxtag-import-"));
    // a stand-in for unc-nlp/lxmert-base-uncased: tiny random weights under HF names, config.json, vocab.txt
    await runEngine(["random-model", "--out", join(dir, "random"), "--config", '{"vocab_size": 40}']);
    const config = JSON.parse(await readFile(join(dir, "random", "manifest.json"), "utf8")).config;
    const hf = join(dir, "hf");
    await mkdir(hf);
    await copyFile(join(dir, "random", "checkpoint.pt"), join(hf, "pytorch_model.bin"));
    await writeFile(join(hf, "config.json"), JSON.stringify({ ...config, model_type: "lxmert" }));
    const vocab = [...VOCAB, ...Array.from({ length: 40 - VOCAB.length }, (_, i) => `[unused${i}]`)];
    await writeFile(join(hf, "vocab.txt"), `${vocab.join("\n")}\n`);
    await writeFile(join(dir, "hashtags.txt"), "sunset\nocean\ndog\n");
    const out = join(dir, "bundle");
    const report = JSON.parse(
      (await runEngine(["import", "--checkpoint", hf, "--out", out, "--hashtags", join(dir, "hashtags.txt")]))
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

    const model = await HashtagModel.load(out);
    const [ranked] = await model.rank([{ text: "sunset over the ocean" }], 3);
    await model.dispose();
    expect(ranked!.map((r) => r.hashtag).sort()).toEqual(["dog", "ocean", "sunset"]);
    expect(ranked!.every((r) => r.score > 0 && r.score < 1)).toBe(true);
  }, 120_000);
});
