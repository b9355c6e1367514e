import { createHash } from "node:crypto";
import { jobIds, type PredictJob, roiCacheKey } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import { encodeRoi, type ObjectStore } from "@lxtag/storage";
import { decodeImage, ImageDecodeError, type ImageDetector } from "@lxtag/vision";
import type { Queue } from "bullmq";
import { fetchImage, ImageFetchError } from "./image-source.js";

export interface FeaturizeDeps {
  repos: Repositories;
  store: ObjectStore;
  detector: ImageDetector;
  predict: Queue<PredictJob>;
  log: Logger;
  maxImageBytes: number;
  maxImagePixels: number;
}

/**
 * One post: fetch its image, run the detector unless the RoI cache already holds this image for this detector,
 * then hand the post to prediction. A bad image does not fail the post: it is flagged and predicted from its caption.
 */
export async function featurize(
  postId: string,
  deps: FeaturizeDeps,
): Promise<"cached" | "detected" | "caption-only" | "skipped"> {
  const post = await deps.repos.posts.forFeatures(postId);
  if (!post) throw new Error(`post ${postId} not found`);
  const enqueue = () =>
    deps.predict.add("predict", { batchId: post.batchId, postId }, { jobId: jobIds.predict(postId) });
  if (post.state !== "pending" && post.state !== "featurizing") {
    if (post.state === "predicting") await enqueue(); // a crash between the update and the enqueue
    return "skipped";
  }
  if (!post.imageKey) {
    await deps.repos.posts.markFeaturized(postId, null);
    await enqueue();
    return "caption-only";
  }
  let outcome: "cached" | "detected" | "caption-only";
  let sha256: string | null = null;
  const flags: string[] = [];
  try {
    ({ outcome, sha256 } = await ensureRoi(post.imageKey, deps));
  } catch (err) {
    if (!(err instanceof ImageDecodeError || err instanceof ImageFetchError)) throw err;
    const reason = err instanceof ImageDecodeError ? err.reason : "image-unavailable";
    deps.log.warn({ postId, reason, err: err.message }, "image unusable; predicting from the caption");
    flags.push("caption-only", `image-error:${reason}`);
    outcome = "caption-only";
  }
  await deps.repos.posts.markFeaturized(postId, outcome === "caption-only" ? null : sha256, flags);
  await enqueue();
  return outcome;
}

/**
 * The RoI cache entry of one image for this detector: fetched, hashed, and detected only when the cache does not
 * already hold it. Throws ImageFetchError or ImageDecodeError for an unusable image.
 */
export async function ensureRoi(
  imageKey: string,
  deps: Pick<FeaturizeDeps, "store" | "detector" | "maxImageBytes" | "maxImagePixels">,
): Promise<{ outcome: "cached" | "detected"; sha256: string }> {
  const bytes = await fetchImage(deps.store, imageKey, deps.maxImageBytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const key = roiCacheKey(deps.detector.id, sha256);
  if (await deps.store.exists(key)) return { outcome: "cached", sha256 };
  const roi = await deps.detector.detect(await decodeImage(bytes, deps.maxImagePixels));
  await deps.store.put(key, encodeRoi(roi), "application/octet-stream");
  return { outcome: "detected", sha256 };
}
