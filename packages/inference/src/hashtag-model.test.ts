// HashtagModel over a real bundle: a random-weight LXMERT4Hashtag graph exported by the engine, with a WordPiece
// tokenizer (testkit's).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
// the built package: the ONNX session runs on a worker thread, which loads dist/session-worker.js
import { FEATURES_PER_POST, HashtagModel, ModelBatch, type ModelInput } from "@lxtag/inference";
import { randomModelBundle } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HASHTAGS = 12;

/** Pseudo-random but repeatable RoI tensors. */
function roi(seed: number): Pick<ModelInput, "features" | "boxes"> {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const features = new Float32Array(NUM_BOXES * FEATURE_DIM).map(() => next() * 4);
  const boxes = new Float32Array(NUM_BOXES * 4).map((_, i) =>
    i % 4 < 2 ? next() * 0.5 : 0.5 + next() * 0.5,
  );
  return { features, boxes };
}

describe("HashtagModel", () => {
  let dir: string;
  let model: HashtagModel;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lxtag-model-"));
    const bundle = join(dir, "bundle");
    await randomModelBundle(bundle, {
      id: "inference-test-model",
      seed: 3,
      detector: "test-detector",
      hashtags: HASHTAGS,
    });
    model = await HashtagModel.load(bundle);
  });
  afterAll(async () => {
    await model?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("ranks the top k of the manifest's hashtags per post, with sigmoid scores in descending order", async () => {
    expect(model.id).toBe("inference-test-model");
    expect(model.manifest.hashtags).toHaveLength(HASHTAGS);
    const ranked = await model.rank(
      [{ text: "a red sunset over the ocean", ...roi(1) }, { text: "my dog" }, { text: "" }],
      5,
    );
    expect(ranked).toHaveLength(3);
    for (const post of ranked) {
      expect(post).toHaveLength(5);
      expect(new Set(post.map((r) => r.hashtag)).size).toBe(5);
      for (const r of post) {
        expect(model.manifest.hashtags).toContain(r.hashtag);
        expect(r.score).toBeGreaterThan(0);
        expect(r.score).toBeLessThan(1);
      }
      const scores = post.map((r) => r.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
  });

  it("returns every hashtag when k exceeds them, and nothing for no posts", async () => {
    const [all] = await model.rank([{ text: "coffee" }], 100);
    expect(all!.map((r) => r.hashtag).sort()).toEqual([...model.manifest.hashtags].sort());
    expect(await model.rank([], 3)).toEqual([]);
    await expect(model.rank([{ text: "coffee" }], 0)).rejects.toThrow(/k must be a positive integer, got 0/);
  });

  it("answers in input order, each post as if it ran alone, and uses the visual input", async () => {
    const a: ModelInput = { text: "a red sunset over the ocean", ...roi(1) };
    const b: ModelInput = { text: "coffee and croissants with my dog", ...roi(2) };
    const [aAlone] = await model.rank([a], HASHTAGS);
    const [bAlone] = await model.rank([b], HASHTAGS);
    const ab = await model.rank([a, b], HASHTAGS);
    const ba = await model.rank([b, a], HASHTAGS);
    const close = (x: { hashtag: string; score: number }[], y: { hashtag: string; score: number }[]) => {
      expect(x.map((r) => r.hashtag)).toEqual(y.map((r) => r.hashtag));
      for (const [i, r] of x.entries()) expect(r.score).toBeCloseTo(y[i]!.score, 5);
    };
    close(ab[0]!, aAlone!);
    close(ab[1]!, bAlone!);
    close(ba[0]!, bAlone!);
    close(ba[1]!, aAlone!);
    // the inputs were copied into the batch tensors, not handed over: they can be ranked again
    expect(a.features!.length).toBe(NUM_BOXES * FEATURE_DIM);
    const [captionOnly] = await model.rank([{ text: a.text }], HASHTAGS);
    const score = (list: { hashtag: string; score: number }[], h: string) =>
      list.find((r) => r.hashtag === h)!.score;
    const diffs = model.manifest.hashtags.map((h) => Math.abs(score(captionOnly!, h) - score(aAlone!, h)));
    expect(Math.max(...diffs)).toBeGreaterThan(1e-4);
  });

  it("ranks a batch filled in place as rank does, leaving its rows beyond its texts out", async () => {
    const a: ModelInput = { text: "a red sunset over the ocean", ...roi(3) };
    const want = await model.rank([a, { text: "my dog" }], HASHTAGS);
    const batch = new ModelBatch(3); // a row to spare, as when a post's RoI object could not be decoded
    batch.features.set(a.features!, 0);
    batch.boxes.set(a.boxes!, 0);
    batch.texts.push(a.text, "my dog");
    batch.features.fill(7, 2 * FEATURES_PER_POST); // the spare row holds what a failed decode left
    const got = await model.rankBatch(batch, HASHTAGS);
    expect(got).toHaveLength(2);
    for (const [i, post] of got.entries()) {
      expect(post.map((r) => r.hashtag)).toEqual(want[i]!.map((r) => r.hashtag));
      for (const [j, r] of post.entries()) expect(r.score).toBeCloseTo(want[i]![j]!.score, 5);
    }
    const over = new ModelBatch(1);
    over.texts.push("one", "two");
    await expect(model.rankBatch(over, 3)).rejects.toThrow(/2 texts in a batch of 1 rows/);
  });

  it("gives the next batch of a size a finished run's tensors, zeroed: a caption-only row stays caption only", async () => {
    const a: ModelInput = { text: "a red sunset over the ocean", ...roi(5) };
    const want = await model.rank([{ text: "my dog" }, { text: a.text }], HASHTAGS);
    const first = model.newBatch(5);
    for (const row of [0, 1]) {
      first.features.set(a.features!, row * FEATURES_PER_POST);
      first.boxes.set(a.boxes!, row * 144);
    }
    first.texts.push(a.text, a.text);
    await model.rankBatch(first, HASHTAGS);
    const next = model.newBatch(5);
    expect(next.recycled).toBe(true);
    expect(next.features.length).toBe(5 * FEATURES_PER_POST);
    expect(next.features.some((v) => v !== 0) || next.boxes.some((v) => v !== 0)).toBe(false);
    next.texts.push("my dog", a.text); // rows the run before filled, left zero now
    const got = await model.rankBatch(next, HASHTAGS);
    for (const [i, post] of got.entries()) {
      expect(post.map((r) => r.hashtag)).toEqual(want[i]!.map((r) => r.hashtag));
      for (const [j, r] of post.entries()) expect(r.score).toBeCloseTo(want[i]![j]!.score, 5);
    }
    expect(model.newBatch(6).recycled).toBe(false); // no finished run of that size
  });
});
