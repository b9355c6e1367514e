import type { Repositories, TrainingPost } from "@lxtag/db";
import type { ObjectStore } from "@lxtag/storage";
import { captionWithoutHashtags, modelText } from "@lxtag/text";
import type { Repostable } from "./data-prep/reposts.js";
import type { FilterStep } from "./filters.js";
import { imagesWithRoi } from "./roi.js";
import type { Splittable } from "./split.js";

/** One labeled post as the later stages use it. */
export interface Example extends Repostable, Splittable {
  /** The model's input text: `modelText(caption)` (the paper's rule), what serving reads. */
  text: string;
  /** The caption with every hashtag removed, word too: what a post without hashtags yet looks like. */
  textWithoutHashtags: string;
}

/**
 * A post's texts from its caption with today's caption rule, not the `model_text` ingest stored: a post ingested
 * under an older rule trains on what serving reads now. The stored text is no fallback: the caption is never null
 * and `model_text` is always derived from it, so an empty caption gave an empty model text under every rule.
 */
export const postTexts = (caption: string) => ({
  text: modelText(caption),
  textWithoutHashtags: captionWithoutHashtags(caption),
});

/** A post's labels: its caption hashtags and positive human labels, less its negative ones (which remove a caption
 * hashtag too). */
export function postLabels(post: Pick<TrainingPost, "hashtags" | "added" | "removed">): string[] {
  const removed = new Set(post.removed);
  return [...new Set([...post.hashtags, ...post.added])].filter((h) => !removed.has(h));
}

export interface LabelsStageOptions {
  /** The serving detector: a post's image counts only with an RoI object of this detector. */
  detectorId: string;
  /** Keep posts without an image, as caption-only examples. */
  captionOnly: boolean;
  /** Aborted when the run loses its lock: the stage stops at its next page of posts or RoI check. */
  signal?: AbortSignal;
}

/**
 * The labeled posts a run may learn from, and each source filter's step: posts not featurized yet, batches that
 * do not allow training, posts left without a label, images without an RoI object for the serving detector, and
 * (when so configured) posts without an image.
 */
export async function collectExamples(
  repos: Repositories,
  store: ObjectStore,
  options: LabelsStageOptions,
): Promise<{ examples: Example[]; steps: FilterStep[] }> {
  const counts = await repos.trainingExamples.counts();
  const posts = await repos.trainingExamples.list({ signal: options.signal });
  const steps: FilterStep[] = [];
  const step = (filter: string, inCount: number, outCount: number, note?: string) =>
    steps.push({ filter, in: inCount, out: outCount, ...(note ? { note } : {}) });
  const seen = posts.length + counts.notAllowed;
  step("ready", seen + counts.notReady, counts.notReady, "featurized or done");
  step("allow-training", seen, counts.notAllowed, "batch option allowTraining");

  const labeled = posts.map((p) => ({ post: p, labels: postLabels(p) })).filter((p) => p.labels.length);
  step("has-labels", posts.length, posts.length - labeled.length, "caption hashtags and human labels");

  const withRoi = await imagesWithRoi(
    store,
    options.detectorId,
    labeled.flatMap((p) => (p.post.imageSha256 ? [p.post.imageSha256] : [])),
    options.signal,
  );
  const featured = labeled.filter((p) => !p.post.imageSha256 || withRoi.has(p.post.imageSha256));
  step(
    "roi",
    labeled.length,
    labeled.length - featured.length,
    `RoI object of detector ${options.detectorId}`,
  );

  const captionOnly = featured.filter((p) => !p.post.imageSha256).length;
  const kept = options.captionOnly ? featured : featured.filter((p) => p.post.imageSha256);
  step(
    "caption-only",
    featured.length,
    featured.length - kept.length,
    options.captionOnly
      ? `${captionOnly} posts without an image kept, caption only`
      : "posts without an image left out",
  );
  return {
    examples: kept.map(({ post, labels }) => ({
      id: post.id,
      ...postTexts(post.caption),
      imageSha256: post.imageSha256,
      takenAt: post.takenAt,
      createdAt: post.createdAt,
      labels,
    })),
    steps,
  };
}
