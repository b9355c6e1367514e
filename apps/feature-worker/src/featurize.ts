import { createHash } from "node:crypto";
import {
  jobIds,
  type PostJob,
  type PostRange,
  type PredictJob,
  REFEATURIZED_FLAG,
  ROI_FORMAT_V2,
  roiCacheKey,
} from "@lxtag/contracts";
import type { PostForFeatures, Repositories } from "@lxtag/db";
import { isTransientError, type Logger, type Semaphore } from "@lxtag/runtime";
import { encodeRoi, type ObjectStore } from "@lxtag/storage";
import { decodeImage, ImageDecodeError, type ImageDetector } from "@lxtag/vision";
import { type Queue, UnrecoverableError } from "bullmq";
import { type FetchLimits, fetchImage, ImageUnavailableError } from "./image-source.js";

export interface FeaturizeDeps {
  repos: Repositories;
  store: ObjectStore;
  detector: ImageDetector;
  predict: Queue<PredictJob>;
  log: Logger;
  limits: FetchLimits & { maxPixels: number };
  /** Posts featurized at once in this process, whatever job they came in (`LXTAG_FEATURE_CONCURRENCY`). */
  slots: Semaphore;
  /** Called with each post featurized: its outcome and how long it took (metrics). */
  observePost?: (outcome: FeaturizeOutcome, seconds: number) => void;
}

export type FeaturizeOutcome = "cached" | "detected" | "caption-only" | "skipped";

/** What a range job did: its posts by outcome (`skipped`: featurized before, by an attempt that failed after). */
export type RangeOutcome = Record<FeaturizeOutcome, number>;

/**
 * Why an image will never be usable (`image-error:<reason>`), or undefined when the error may pass (an outage,
 * a timeout, a detector failure) and the job should be retried.
 */
function unusableReason(err: unknown): string | undefined {
  if (err instanceof ImageDecodeError || err instanceof ImageUnavailableError) return err.reason;
  return undefined;
}

/**
 * A range of posts (ingest's jobs): featurizes those waiting for features, then hands the range to prediction in
 * one predict job, once no post of it is left before prediction. A post whose attempt failed (an outage, a host
 * that does not answer) does not stop the others: the job then fails and its retry featurizes what is left, and
 * the posts this attempt featurized go to prediction at once in a predict job of the attempt's own
 * (`jobIds.predictPart`), so they do not wait through the retries' backoff. The range's predict job, whose id
 * derives from the range, is added once, when the whole range is ready. Posts take `slots` one each, so a small
 * batch's one job uses all of them and many jobs never use more. `attempt.started`: the job's attempts started,
 * this one included (BullMQ's `attemptsStarted`: an attempt that stalled counts too, so no two attempts share a
 * part id); `attempt.retriedAfter`: whether a failure of this attempt with that error is retried. One that is not
 * adds no part job: the job's final failure adds the range's predict job, which would predict the same posts
 * again beside it.
 */
export async function featurizeRange(
  range: PostRange,
  deps: FeaturizeDeps,
  attempt: { started: number; retriedAfter: (err: unknown) => boolean },
): Promise<RangeOutcome> {
  const posts = await deps.repos.posts.inRange(range, ["pending", "featurizing", "predicting"]);
  const outcomes: RangeOutcome = { cached: 0, detected: 0, "caption-only": 0, skipped: 0 };
  const failures: unknown[] = [];
  await Promise.all(
    posts.map(async (post) => {
      if (post.state === "predicting") {
        outcomes.skipped++;
        return;
      }
      try {
        outcomes[await featurizeInSlot(post, deps)]++;
      } catch (err) {
        failures.push(err);
      }
    }),
  );
  if (failures.length) {
    // an outage's error, if any, so that the job is retried for as long as outages are
    const err = failures.find(isTransientError) ?? failures[0];
    const featurized = outcomes.cached + outcomes.detected + outcomes["caption-only"];
    if (featurized && attempt.retriedAfter(err))
      await deps.predict.add("predict", range, { jobId: jobIds.predictPart(range, attempt.started) });
    throw err;
  }
  if (posts.length) await addPredictJob(range, deps.predict);
  return outcomes;
}

/**
 * Adds a range's predict job, once its posts are all past featurization. A job of that id that already finished
 * (an earlier attempt's, or the reconciler's while this job waited for a retry) is replaced: BullMQ never adds an
 * id it still holds, and it may have finished before all the range's posts were ready.
 */
export async function addPredictJob(range: PostRange, predict: Queue<PredictJob>): Promise<void> {
  const jobId = jobIds.predict(range);
  const state = await predict.getJobState(jobId);
  if (state === "completed" || state === "failed") await predict.remove(jobId);
  await predict.add("predict", range, { jobId });
}

/**
 * One post's job: a post sent back by the predict worker (no RoI object for its model's detector), or a job queued
 * before ranges. Its predict job has an id of its own (`jobIds.repredict`): a first predict job may still be kept
 * a while after it completed, and BullMQ never re-adds an id.
 */
export async function featurizeOne(
  { batchId, postId }: PostJob,
  deps: FeaturizeDeps,
): Promise<FeaturizeOutcome> {
  const post = await deps.repos.posts.forFeatures(postId);
  if (!post) throw new UnrecoverableError(`post ${postId} not found`);
  const enqueue = () =>
    deps.predict.add("predict", { batchId, postId }, { jobId: jobIds.repredict(postId, deps.detector.id) });
  if (post.state !== "pending" && post.state !== "featurizing") {
    if (post.state === "predicting") await enqueue(); // a crash between the update and the enqueue
    return "skipped";
  }
  const outcome = await featurizeInSlot(post, deps);
  await enqueue();
  return outcome;
}

/** `featurizePost` once one of the process's slots is free, timed from then. */
const featurizeInSlot = (post: PostForFeatures, deps: FeaturizeDeps) =>
  deps.slots.use(1, async () => {
    const started = performance.now();
    const outcome = await featurizePost(post, deps);
    deps.observePost?.(outcome, (performance.now() - started) / 1000);
    return outcome;
  });

/**
 * One post waiting for features: its image's RoIs cached in S3 unless the cache already holds this image for this
 * detector, then the post marked ready for prediction. An image that will never be usable does not fail the post:
 * it is flagged `caption-only` and `image-error:<reason>` and predicted from its caption. Anything else is thrown,
 * so the job is retried: a brief S3 or network outage must not degrade a post for good.
 */
async function featurizePost(
  post: PostForFeatures,
  deps: FeaturizeDeps,
): Promise<"cached" | "detected" | "caption-only"> {
  if (!post.imageKey) {
    await deps.repos.posts.markFeaturized(post.id, null);
    return "caption-only";
  }
  let outcome: "cached" | "detected" | "caption-only";
  let sha256: string | null = null;
  const flags: string[] = [];
  try {
    // a post sent back found no RoI object where this worker had seen one: S3 is asked again, never the memory
    const lookUp = post.flags.includes(REFEATURIZED_FLAG) ? "ask" : "remembered";
    ({ outcome, sha256 } = await ensureRoi(post.imageKey, deps, post.imageSha256, lookUp));
  } catch (err) {
    const reason = unusableReason(err);
    if (!reason) throw err;
    deps.log.warn(
      { postId: post.id, reason, err: (err as Error).message },
      "image unusable; predicting from the caption",
    );
    flags.push("caption-only", `image-error:${reason}`);
    outcome = "caption-only";
  }
  await deps.repos.posts.markFeaturized(post.id, sha256, flags);
  return outcome;
}

/** `ensureRoi` calls under way in this process, by bucket, detector and image: joined, never run twice at once. */
const inFlight = new Map<string, Promise<{ outcome: "cached" | "detected"; sha256: string }>>();

/**
 * RoI objects this process saw in S3 (or stored) lately, by bucket and key, with when: posts of an export share
 * few images, so most feature jobs would otherwise end at a HEAD for an object seen a moment before. RoI objects
 * are content-addressed and never rewritten; one removed since is found by the predict worker, which sends its post
 * back, and a post sent back is always looked up in S3.
 */
const seen = new Map<string, number>();
const SEEN_FOR_MS = 5 * 60_000;
const SEEN_MAX = 50_000;

function sawRoi(id: string): void {
  seen.delete(id); // re-inserted last: the oldest entry is the first one
  seen.set(id, Date.now());
  if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value!);
}

const sawRoiLately = (id: string) => Date.now() - (seen.get(id) ?? Number.NEGATIVE_INFINITY) < SEEN_FOR_MS;

/**
 * The RoI cache entry of one image for this detector: fetched, hashed, and detected only when the cache does not
 * already hold it. Throws ImageUnavailableError or ImageDecodeError for an image that will never be usable.
 * `knownSha256`, the hash ingest computed of an image it stored (content-addressed, `images/<sha256>`), lets a
 * cached image skip the download: posts of an export share few images, so most of their jobs end at one HEAD, or
 * at none when this process saw the object lately (`lookUp: "remembered"`).
 * Jobs of posts sharing an image often run at once (ingest enqueues an export's posts together): a second call for
 * an image whose call is under way joins it (outcome `cached`) instead of running the detector again.
 */
export async function ensureRoi(
  imageKey: string,
  deps: Pick<FeaturizeDeps, "store" | "detector" | "limits">,
  knownSha256: string | null = null,
  lookUp: "remembered" | "ask" = "ask",
): Promise<{ outcome: "cached" | "detected"; sha256: string }> {
  if (knownSha256 && lookUp === "remembered" && sawRoiLately(seenId(deps, knownSha256)))
    return { outcome: "cached", sha256: knownSha256 };
  const image = [
    deps.store.bucket,
    deps.detector.id,
    knownSha256 ? `sha:${knownSha256}` : `key:${imageKey}`,
  ].join("\0");
  const running = inFlight.get(image);
  if (running) return { outcome: "cached", sha256: (await running).sha256 };
  const call = lookUpOrDetect(imageKey, deps, knownSha256, lookUp);
  inFlight.set(image, call);
  try {
    return await call;
  } finally {
    inFlight.delete(image);
  }
}

async function lookUpOrDetect(
  imageKey: string,
  deps: Pick<FeaturizeDeps, "store" | "detector" | "limits">,
  knownSha256: string | null,
  lookUp: "remembered" | "ask",
): Promise<{ outcome: "cached" | "detected"; sha256: string }> {
  if (knownSha256 && (await deps.store.exists(roiCacheKey(deps.detector.id, knownSha256)))) {
    sawRoi(seenId(deps, knownSha256));
    return { outcome: "cached", sha256: knownSha256 };
  }
  const bytes = await fetchImage(deps.store, imageKey, deps.limits);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const key = roiCacheKey(deps.detector.id, sha256);
  // an image given by URL or S3 key (a JSON batch) has no hash before it is downloaded
  if (lookUp === "remembered" && sawRoiLately(seenId(deps, sha256))) return { outcome: "cached", sha256 };
  let outcome: "cached" | "detected" = "cached";
  if (!(await deps.store.exists(key))) {
    const roi = await deps.detector.detect(await decodeImage(bytes, deps.limits.maxPixels));
    // 8-bit features (lxtag-roi/2): half the bytes of lxtag-roi/1 for every later read; readers take both
    await deps.store.put(key, encodeRoi(roi, ROI_FORMAT_V2), "application/octet-stream");
    outcome = "detected";
  }
  sawRoi(seenId(deps, sha256));
  return { outcome, sha256 };
}

const seenId = (deps: Pick<FeaturizeDeps, "store" | "detector">, sha256: string) =>
  `${deps.store.bucket}\0${roiCacheKey(deps.detector.id, sha256)}`;
