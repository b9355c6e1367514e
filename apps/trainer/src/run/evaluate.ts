import { createHash } from "node:crypto";
import type { TrainingEvaluation } from "@lxtag/contracts";
import { HashtagModel } from "@lxtag/inference";
import type { ObjectStore } from "@lxtag/storage";
import type { Example } from "./labels.js";
import { KS, rankingMetrics } from "./metrics.js";
import { readRois } from "./roi.js";

/** Candidate, active model and popularity baseline on the same test posts: the contracts' type, as stored. */
export type Evaluation = TrainingEvaluation;

/** Posts ranked per inference call: bounds the RoI tensors in memory (36 x 2048 floats per post). */
const BATCH = 64;

/**
 * Ranks the test posts with the candidate and the active model through the serving path (`HashtagModel`: the
 * bundle's tokenizer and ONNX graph, RoI features from the cache), and scores both and the popularity baseline with
 * CONTRACTS.md section 6.
 */
export async function evaluateModels(options: {
  store: ObjectStore;
  detectorId: string;
  test: readonly Example[];
  candidateDir: string;
  activeDir: string | null;
  /** Training hashtags, most frequent first. */
  popularity: readonly string[];
}): Promise<Evaluation> {
  const k = Math.max(...KS);
  const candidate = await HashtagModel.load(options.candidateDir);
  const active = options.activeDir ? await HashtagModel.load(options.activeDir) : null;
  const ranked: { candidate: string[][]; active: string[][] } = { candidate: [], active: [] };
  try {
    for (let start = 0; start < options.test.length; start += BATCH) {
      const batch = options.test.slice(start, start + BATCH);
      const rois = await readRois(
        options.store,
        options.detectorId,
        batch.map((e) => e.imageSha256),
      );
      const inputs = batch.map((e, i) => ({
        text: e.text,
        features: rois[i]?.features,
        boxes: rois[i]?.boxes,
      }));
      for (const r of await candidate.rank(inputs, k)) ranked.candidate.push(r.map((x) => x.hashtag));
      if (active) for (const r of await active.rank(inputs, k)) ranked.active.push(r.map((x) => x.hashtag));
    }
  } finally {
    await candidate.dispose();
    await active?.dispose();
  }
  const truth = options.test.map((e) => e.labels);
  const popular = options.popularity.slice(0, k);
  return {
    split: "test",
    posts: options.test.length,
    labels: truth.reduce((s, g) => s + new Set(g).size, 0),
    postsSha256: createHash("sha256")
      .update(options.test.map((e) => e.id).join("\n"))
      .digest("hex"),
    candidate: { id: candidate.id, metrics: rankingMetrics(ranked.candidate, truth) },
    active: active ? { id: active.id, metrics: rankingMetrics(ranked.active, truth) } : null,
    popularity: {
      hashtags: popular,
      metrics: rankingMetrics(
        truth.map(() => popular),
        truth,
      ),
    },
  };
}
