// The effect of 8-bit RoI features (lxtag-roi/2) on what the model ranks, against the F16 features of lxtag-roi/1,
// on the same posts, for the tiny model and a base-width one (random weights, as the bench uses): the README's
// figures come from this test.
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES, ROI_FORMAT, ROI_FORMAT_V2 } from "@lxtag/contracts";
import { HashtagModel, type ModelInput } from "@lxtag/inference";
import { decodeRoi, encodeRoi } from "@lxtag/storage";
import { CORPUS, engineCommand, randomModelBundle } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomRoi } from "./testing/fixtures.js";

const POSTS = 64;
const HASHTAGS = 50;

/** What the tolerances hold: the largest score difference, and the share of posts with the same top 5 (as a set). */
const TOLERANCE = { maxAbsScore: 0.002, top5SetAgreement: 0.95 };

/** A deterministic generator, so the figures are the same on every run. */
function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Region features shaped like a detector's mean-pooled ReLU output: mostly small non-negative values, a few
 * large ones per box (the outliers an 8-bit step must stretch to cover), magnitudes differing from box to box.
 */
function reluFeatures(rand: () => number): Float32Array {
  const out = new Float32Array(NUM_BOXES * FEATURE_DIM);
  for (let b = 0; b < NUM_BOXES; b++) {
    const magnitude = 0.2 + 3 * rand();
    for (let i = 0; i < FEATURE_DIM; i++) {
      const g = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
      const outlier = rand() < 0.005 ? 8 * rand() : 0;
      out[b * FEATURE_DIM + i] = magnitude * (Math.max(0, g) + outlier);
    }
  }
  return out;
}

interface Effect {
  maxAbsScore: number;
  top5SetAgreement: number;
  top1Agreement: number;
}

type Stored = "f32" | typeof ROI_FORMAT | typeof ROI_FORMAT_V2;

/** The scores of `a` against `b`: features as the detector gave them (f32), or through one RoI format. */
async function effect(model: HashtagModel, features: Float32Array[], a: Stored, b: Stored): Promise<Effect> {
  const boxes = randomRoi("d").boxes;
  const inputs = (stored: Stored): ModelInput[] =>
    features.map((f, i) => ({
      text: CORPUS[i % CORPUS.length]!,
      features:
        stored === "f32" ? f : decodeRoi(encodeRoi({ ...randomRoi("d"), features: f }, stored)).features,
      boxes,
    }));
  const [f16, u8] = [await model.rank(inputs(a), HASHTAGS), await model.rank(inputs(b), HASHTAGS)];
  let maxAbsScore = 0;
  let same5 = 0;
  let same1 = 0;
  f16.forEach((a, i) => {
    const b = new Map(u8[i]!.map((r) => [r.hashtag, r.score]));
    for (const r of a) maxAbsScore = Math.max(maxAbsScore, Math.abs(r.score - b.get(r.hashtag)!));
    const top5 = (rs: { hashtag: string }[]) =>
      rs
        .slice(0, 5)
        .map((r) => r.hashtag)
        .sort()
        .join(",");
    if (top5(a) === top5(u8[i]!)) same5 += 1;
    if (a[0]!.hashtag === u8[i]![0]!.hashtag) same1 += 1;
  });
  return { maxAbsScore, top5SetAgreement: same5 / f16.length, top1Agreement: same1 / f16.length };
}

describe("8-bit RoI features (lxtag-roi/2) against F16 (lxtag-roi/1)", () => {
  let work: string;
  const models: Record<string, HashtagModel> = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-roi-q-"));
    const tiny = join(work, "tiny");
    await randomModelBundle(tiny, { id: "q-tiny", seed: 3, detector: "d", hashtags: HASHTAGS });
    const base = join(work, "base");
    const config = { vocab_size: 200, l_layers: 2, x_layers: 2, r_layers: 2 };
    await engineCommand(
      [
        ...["random-model", "--out", base, "--preset", "base", "--config", JSON.stringify(config)],
        ...["--hashtags", String(HASHTAGS), "--detector", "d", "--id", "q-base", "--seed", "4"],
      ],
      { devtools: true },
    );
    await copyFile(join(tiny, "tokenizer.json"), join(base, "tokenizer.json")); // the same 200-word vocabulary
    models.tiny = await HashtagModel.load(tiny, { intraOpThreads: 2 });
    models.base = await HashtagModel.load(base, { intraOpThreads: 2 });
  }, 300_000);
  afterAll(async () => {
    await Promise.all(Object.values(models).map((m) => m.dispose()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const size of ["tiny", "base"] as const)
    for (const kind of ["uniform", "relu-with-outliers"] as const)
      it(`changes the ${size} model's scores by less than ${TOLERANCE.maxAbsScore} (${kind} features)`, async () => {
        const rand = mulberry32(size === "tiny" ? 11 : 12);
        const features = Array.from({ length: POSTS }, () =>
          kind === "uniform"
            ? Float32Array.from({ length: NUM_BOXES * FEATURE_DIM }, () => rand() * 4)
            : reluFeatures(rand),
        );
        const e = await effect(models[size]!, features, ROI_FORMAT, ROI_FORMAT_V2);
        // for scale: what storing F16 (lxtag-roi/1) already changes against the detector's float32
        const floor = await effect(models[size]!, features, "f32", ROI_FORMAT);
        console.log(
          `roi-quantization ${size} ${kind}: u8 vs f16 ${JSON.stringify(e)}; f16 vs f32 ${JSON.stringify(floor)}`,
        );
        expect(e.maxAbsScore).toBeLessThan(TOLERANCE.maxAbsScore);
        expect(e.top5SetAgreement).toBeGreaterThanOrEqual(TOLERANCE.top5SetAgreement);
      }, 120_000);
});
