import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors } from "@lxtag/storage";
import { CaptionTokenizer, writeWordPieceTokenizer } from "@lxtag/text";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatasetExample, writeDataset } from "./dataset-writer.js";
import { postTexts } from "./run/labels.js";

const example = (id: string, caption: string, labels: string[]): DatasetExample => ({
  id,
  ...postTexts(caption),
  labels,
});

describe("dataset writer", () => {
  let dir: string;
  const captions = [
    ["a", "Golden hour in #brooklyn tonight\n#sunset #nyc", ["brooklyn", "sunset", "nyc"]],
    ["b", "Morning espresso ☕️ #coffee #cafe", ["coffee", "cafe"]],
    ["c", "Walking the #dog in the park", ["dog", "park", "golden"]],
  ] as const;
  const splits = {
    // three train posts in parts of two: train.0 and train.1
    train: captions.map(([id, c, l]) => example(id, c, [...l])),
    val: [example("v", "Skyline lights #city #night", ["city", "night"])],
    test: [example("t", "#sunset over the #ocean", ["sunset", "ocean"])],
  };
  const hashtags = ["sunset", "coffee", "dog"];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lxtag-dataset-"));
    const tokenizerPath = join(dir, "source-tokenizer.json");
    writeWordPieceTokenizer(
      Object.values(splits).flatMap((s) => s.flatMap((e) => [e.text, e.textWithoutHashtags])),
      tokenizerPath,
      200,
    );
    await writeDataset(join(dir, "ds"), splits, {
      hashtags,
      tokenizerPath,
      detectorId: "test-detector",
      rois: async (chunk) => chunk.map(() => null),
      maxLength: 16,
      partSize: 2,
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const read = async (name: string) => decodeSafetensors(await readFile(join(dir, "ds", name)));
  const values = (t: { data: unknown } | undefined) => Array.from(t!.data as ArrayLike<number>);

  it("writes a hashtag-free variant beside every split's shards, parts matching", async () => {
    expect((await readdir(join(dir, "ds"))).sort()).toEqual([
      "dataset.json",
      "test.safetensors",
      "test_notags.safetensors",
      "tokenizer.json",
      "train.0.safetensors",
      "train.1.safetensors",
      "train_notags.0.safetensors",
      "train_notags.1.safetensors",
      "val.safetensors",
      "val_notags.safetensors",
    ]);
    const meta = JSON.parse(await readFile(join(dir, "ds", "dataset.json"), "utf8"));
    expect(meta.text_variants).toEqual(["notags"]);
    expect(meta.splits).toEqual({ train: 3, val: 1, test: 1 });
  });

  it("holds only the tokens of the caption without hashtags, for the same posts in the same order", async () => {
    const tokenizer = CaptionTokenizer.fromFile(join(dir, "ds", "tokenizer.json"), 16);
    for (const [part, posts] of [
      ["0", splits.train.slice(0, 2)],
      ["1", splits.train.slice(2)],
    ] as const) {
      const base = await read(`train.${part}.safetensors`);
      const notags = await read(`train_notags.${part}.safetensors`);
      expect(Object.keys(notags.tensors).sort()).toEqual(["attention_mask", "input_ids"]);
      expect(notags.tensors.input_ids).toMatchObject({ dtype: "I32", shape: [posts.length, 16] });
      expect(notags.tensors.attention_mask).toMatchObject({ dtype: "U8", shape: [posts.length, 16] });
      expect(notags.metadata.post_ids).toBe(base.metadata.post_ids);
      expect(JSON.parse(notags.metadata.post_ids!)).toEqual(posts.map((p) => p.id));
      // the variant's tokens are the hashtag-free text's; the base's the model text's
      const enc = await tokenizer.encodeBatch(posts.map((p) => p.textWithoutHashtags));
      const ids = values(notags.tensors.input_ids);
      for (let i = 0; i < posts.length; i++)
        for (let t = 0; t < enc.length; t++)
          expect(ids[i * 16 + t]).toBe(Number(enc.inputIds[i * enc.length + t]));
      expect(values(notags.tensors.input_ids)).not.toEqual(values(base.tensors.input_ids));
    }
    expect(splits.train[0]).toMatchObject({
      text: "Golden hour in brooklyn tonight",
      textWithoutHashtags: "Golden hour in tonight",
    });
  });

  it("counts every true label of a post in label_count, also those outside the outputs", async () => {
    const base = await read("train.0.safetensors");
    expect(base.tensors.label_count).toMatchObject({ dtype: "I32", shape: [2] });
    expect(values(base.tensors.label_count)).toEqual([3, 2]);
    // the multi-hot labels hold the outputs only
    expect(values(base.tensors.labels)).toEqual([1, 0, 0, 0, 1, 0]);
    expect(values((await read("train.1.safetensors")).tensors.label_count)).toEqual([3]);
    expect(values((await read("test.safetensors")).tensors.label_count)).toEqual([2]);
  });

  it("stops before the next part once its signal is aborted (a run that lost its lock)", async () => {
    const out = join(dir, "aborted");
    const stop = new AbortController();
    const parts: string[][] = [];
    const writing = writeDataset(out, splits, {
      hashtags,
      tokenizerPath: join(dir, "source-tokenizer.json"),
      detectorId: "test-detector",
      rois: async (chunk) => {
        parts.push(chunk.map((e) => e.id));
        stop.abort(new Error("lost the training-run lock: test"));
        return chunk.map(() => null);
      },
      maxLength: 16,
      partSize: 2,
      signal: stop.signal,
    });
    await expect(writing).rejects.toThrow("lost the training-run lock: test");
    expect(parts).toEqual([["a", "b"]]);
    expect((await readdir(out)).sort()).toEqual([
      "tokenizer.json",
      "train.0.safetensors",
      "train_notags.0.safetensors",
    ]);
  });
});
