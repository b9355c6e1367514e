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

type Ranked = { candidate: string[][]; active: string[][] };

/**
 * Ranks the test posts with the candidate and the active model through the serving path (`HashtagModel`: the
 * bundle's tokenizer and ONNX graph, RoI features from the cache), and scores both and the popularity baseline with
 * CONTRACTS.md section 6, twice: on the model text (the paper's rule: in-sentence hashtags keep their word) and on
 * the caption with every hashtag removed (a post to be labeled usually has none yet).
 */
export async function evaluateModels(options: {
  store: ObjectStore;
  detectorId: string;
  test: readonly Example[];
  candidateDir: string;
  activeDir: string | null;
  /** Training hashtags, most frequent first. */
  popularity: readonly string[];
  /** Checked before each batch: a run that lost its lock stops here. */
  signal?: AbortSignal;
}): Promise<Evaluation> {
  const k = Math.max(...KS);
  const candidate = await HashtagModel.load(options.candidateDir);
  const active = options.activeDir ? await HashtagModel.load(options.activeDir) : null;
  const ranked: Ranked = { candidate: [], active: [] };
  const free: Ranked = { candidate: [], active: [] };
  try {
    for (let start = 0; start < options.test.length; start += BATCH) {
      options.signal?.throwIfAborted();
      const batch = options.test.slice(start, start + BATCH);
      const rois = await readRois(
        options.store,
        options.detectorId,
        batch.map((e) => e.imageSha256),
      );
      const inputs = (text: (e: Example) => string) =>
        batch.map((e, i) => ({ text: text(e), features: rois[i]?.features, boxes: rois[i]?.boxes }));
      for (const [into, text] of [
        [ranked, (e: Example) => e.text],
        [free, (e: Example) => e.textWithoutHashtags],
      ] as const) {
        const x = inputs(text);
        for (const r of await candidate.rank(x, k)) into.candidate.push(r.map((y) => y.hashtag));
        if (active) for (const r of await active.rank(x, k)) into.active.push(r.map((y) => y.hashtag));
      }
    }
  } finally {
    await candidate.dispose();
    await active?.dispose();
  }
  // the truth is every label of a post (after the data stage's aliases and blocklist), also those outside any
  // model's outputs: recall is the share of a post's real hashtags found, the figure users see
  const truth = options.test.map((e) => e.labels);
  const popular = options.popularity.slice(0, k);
  const scores = (r: Ranked) => ({
    candidate: { id: candidate.id, metrics: rankingMetrics(r.candidate, truth) },
    active: active ? { id: active.id, metrics: rankingMetrics(r.active, truth) } : null,
    // the same ranking for every post, whatever its text
    popularity: {
      hashtags: popular,
      metrics: rankingMetrics(
        truth.map(() => popular),
        truth,
      ),
    },
  });
  return {
    split: "test",
    posts: options.test.length,
    labels: truth.reduce((s, g) => s + new Set(g).size, 0),
    postsSha256: createHash("sha256")
      .update(options.test.map((e) => e.id).join("\n"))
      .digest("hex"),
    ...scores(ranked),
    hashtagFree: scores(free),
  };
}
