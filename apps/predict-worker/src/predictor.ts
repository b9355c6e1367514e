import {
  FEATURE_DIM,
  type FeatureJob,
  jobIds,
  NUM_BOXES,
  REFEATURIZED_FLAG,
  ROI_FORMATS,
  roiCacheKey,
} from "@lxtag/contracts";
import type { PostForPredict, Repositories } from "@lxtag/db";
import {
  BOXES_PER_POST,
  DynamicBatcher,
  type DynamicBatcherOptions,
  FEATURES_PER_POST,
  type HashtagModel,
  type ModelBatch,
} from "@lxtag/inference";
import { isTransientError, type Logger } from "@lxtag/runtime";
import {
  decodeRoi,
  encodeRoi,
  ObjectNotFoundError,
  type ObjectStore,
  SafetensorsError,
} from "@lxtag/storage";
import type { Queue } from "bullmq";
import type { FeatureCache } from "./feature-cache.js";

/** `refeaturized`: the post went back to featurization for its model's detector; a later job predicts it. */
export type PredictOutcome = "done" | "skipped" | "refeaturized";

/**
 * Flags of a post with no RoI object for its model's detector even after it went back to featurization once (the
 * feature workers serve another detector, or the object is gone): predicted from its caption alone.
 */
export const ROI_MISSING_FLAGS = ["caption-only", "roi-missing"];

export interface PredictorDeps {
  repos: Repositories;
  store: ObjectStore;
  /** Where a post goes back when its image has no RoI object for the model's detector. */
  features: Queue<FeatureJob>;
  log: Logger;
  topK: number;
  /** Runs a micro-batch on the serving model, which stays loaded until the batch is written. */
  withModel: <T>(fn: (model: HashtagModel) => Promise<T>) => Promise<T>;
  /** Called after each micro-batch with its size and duration (metrics). */
  observeBatch?: (size: number, seconds: number) => void;
  /**
   * RoI objects read again (relabeling, posts sharing an image): an object is kept once a relabel reads it, or on
   * its second read; concurrent reads of one object share one GET.
   */
  cache: FeatureCache;
}

export interface PredictorOptions extends DynamicBatcherOptions {
  /**
   * Micro-batches reading their RoI objects at once: a batch hands its slot on once its features are decoded, so
   * the next ones read while it runs in the model and writes; as many again may be past their reads (their tensors
   * held until the model takes them). @defaultValue 3
   */
  batchesInFlight?: number;
}

/**
 * What a job of several posts did to them, by outcome: predicted, sent back to featurization, or no longer there
 * to predict (failed, deleted, or moved on since).
 */
export type ManyOutcome = Record<PredictOutcome, number>;

/** One post's part of a micro-batch: its outcome, or the error its job fails with. */
type ItemResult = { outcome: PredictOutcome } | { error: Error };

/**
 * A post's RoI object (undecoded; absent: caption only, with the flags that say why), or why it has none now, or
 * that it needs features from the model's detector first.
 */
type Features =
  | { roi?: { key: string; bytes: Buffer }; flags: string[] }
  | { error: Error }
  | { refeaturize: true };

/**
 * Micro-batches concurrent predict jobs into one ONNX run, then writes the posts' ranked hashtags in one
 * transaction. A model is never fed another detector's features: a post whose image has no RoI object for the
 * model's detector goes back to featurization once (flagged `refeaturized`), and is predicted from its caption
 * (flagged `roi-missing`) only when the object is still missing after that. A post whose RoI cannot be read now
 * (an S3 outage) fails alone, so its job is retried while the rest of its batch is written.
 */
export class Predictor {
  readonly batcher: DynamicBatcher<PostForPredict, ItemResult>;
  /**
   * RoI objects decoded into micro-batches so far. Posts of one batch that share an image get a copy of the row
   * decoded for the first of them (a copy costs a tenth of a decode): each batch adds its distinct images.
   */
  readonly stats = { decoded: 0 };
  private readonly maxBatchSize: number;

  constructor(
    private readonly deps: PredictorDeps,
    options: PredictorOptions,
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 32;
    // the model is taken when the batch starts, so a swapped-in model serves every batch that starts later
    this.batcher = new DynamicBatcher(
      (posts, release) => this.deps.withModel((model) => this.runBatch(model, posts, release)),
      { ...options, maxInFlight: options.batchesInFlight ?? 3 },
    );
  }

  /** Predicts a post as its job read it (its state, caption and image), in a micro-batch with other jobs' posts. */
  async predict(post: PostForPredict): Promise<PredictOutcome> {
    const result = await this.batcher.submit(post);
    if ("error" in result) throw result.error;
    return result.outcome;
  }

  /**
   * Predicts a job's posts: a range waiting for prediction, or finished posts to relabel with the serving model
   * from their RoI objects (the worker's cache first: the detector never runs, and a post keeps its earlier
   * predictions beside the new ones), as its job read them. The posts join micro-batches with other jobs' posts;
   * any post's error fails the job, whose retry predicts its posts again (an upsert).
   */
  async predictMany(posts: PostForPredict[]): Promise<ManyOutcome> {
    const results = await Promise.all(posts.map((post) => this.batcher.submit(post)));
    const errors = results.flatMap((r) => ("error" in r ? [r.error] : []));
    // an outage's error, if any, so that the job is retried for as long as outages are
    if (errors.length) throw errors.find(isTransientError) ?? errors[0];
    const outcomes: ManyOutcome = { done: 0, refeaturized: 0, skipped: 0 };
    for (const r of results) if ("outcome" in r) outcomes[r.outcome]++;
    return outcomes;
  }

  /**
   * Runs `runs` full micro-batches of synthetic posts through decoding and `model` before it serves, as Triton's
   * model warm-up does: ONNX Runtime sizes its memory in a session's first runs, V8 compiles the decoders, and the
   * batch tensors get allocated (and kept for reuse). A session's first runs of 32 posts of the tiny model took 70
   * to 98 ms, then 39 to 53, against 13 to 35 once warm, and each fresh worker and each newly activated model paid
   * that on live posts. The posts are as long as the model reads (its largest tensors), their RoI objects zeros in
   * each RoI format. Throws when the model cannot run a batch.
   */
  async warmUp(model: HashtagModel, runs = 2): Promise<void> {
    const objects = ROI_FORMATS.map((format) =>
      encodeRoi(
        {
          detectorId: model.manifest.detector,
          imageWidth: 1,
          imageHeight: 1,
          numRealBoxes: 0,
          features: new Float32Array(NUM_BOXES * FEATURE_DIM),
          boxes: new Float32Array(NUM_BOXES * 4),
          scores: new Float32Array(NUM_BOXES),
        },
        format,
      ),
    );
    const caption = Array.from({ length: model.manifest.max_length }, () => "warm").join(" ");
    for (let run = 0; run < runs; run++) {
      const batch = model.newBatch(this.maxBatchSize);
      for (let row = 0; row < this.maxBatchSize; row++) {
        decodeRoi(objects[row % objects.length]!, batch.features, row * FEATURES_PER_POST);
        batch.texts.push(caption);
      }
      await model.rankBatch(batch, this.deps.topK);
    }
  }

  /**
   * Reads the posts' RoI objects (and sends back those without one for the model's detector), hands the read slot
   * on (`release`), then ranks and writes. The posts come read by their jobs: no query holds the slot.
   */
  private async runBatch(
    model: HashtagModel,
    items: PostForPredict[],
    release: () => void,
  ): Promise<ItemResult[]> {
    const started = performance.now();
    const { repos } = this.deps;
    // a post may come twice (a range's part job and its own job in flight together): it is predicted once
    const posts = new Map(items.map((p) => [p.id, p]));
    const todo = [...posts.values()].filter((p) => p.state === "predicting" || p.state === "done");
    const features = await Promise.all(todo.map((post) => this.features(model, post)));
    const failed = new Map<string, Error>();
    const found: { post: PostForPredict; roi?: { key: string; bytes: Buffer }; flags: string[] }[] = [];
    // sent back now, or before by an attempt that failed between the state change and adding its features job
    const back = [...posts.values()].filter(
      (p) => p.state === "featurizing" && p.flags.includes(REFEATURIZED_FLAG),
    );
    todo.forEach((post, i) => {
      const f = features[i]!;
      if ("error" in f) failed.set(post.id, f.error);
      else if ("refeaturize" in f) back.push(post);
      else found.push({ post, ...f });
    });
    const sentBack = new Map(
      await Promise.all(back.map(async (post) => [post.id, await this.sendBack(model, post)] as const)),
    );
    const batch = model.newBatch(this.maxBatchSize);
    const ready: { post: PostForPredict; flags: string[] }[] = [];
    const rowOf = new Map<string, number>(); // RoI object -> the row it was decoded into
    for (const f of found) {
      const row = ready.length;
      const decoded = f.roi && rowOf.get(f.roi.key);
      let error: Error | undefined;
      if (decoded !== undefined) batch.copyRow(decoded, row);
      else if (f.roi) {
        error = this.decodeInto(batch, row, f.roi);
        if (!error) rowOf.set(f.roi.key, row);
      }
      if (error) failed.set(f.post.id, error);
      else {
        batch.texts.push(f.post.modelText);
        ready.push(f);
      }
    }
    release();
    const ranked = await model.rankBatch(batch, this.deps.topK);
    // a post failed since its job read it is not written (skipped)
    const done = new Set(
      await repos.posts.savePredictions(
        model.id,
        ready.map((r, i) => ({ postId: r.post.id, ranked: ranked[i]!, flags: r.flags })),
      ),
    );
    await repos.batches.completeIfFinished([...new Set(ready.map((r) => r.post.batchId))]);
    this.deps.observeBatch?.(items.length, (performance.now() - started) / 1000);
    return items.map(({ id }) => {
      const error = failed.get(id);
      if (error) return { error };
      return sentBack.get(id) ?? { outcome: done.has(id) ? "done" : "skipped" };
    });
  }

  /**
   * Decodes an RoI object straight into row `row` of the batch (no tensors of its own to allocate and copy), or
   * says why it cannot be: the post's attempt fails and its job is retried. An unreadable object leaves the cache
   * and the row zero: S3-compatible stores that write objects in place (s3rver does) can serve a half-written
   * object while another feature job stores the same image's RoIs, and the retry reads it whole.
   */
  private decodeInto(batch: ModelBatch, row: number, roi: { key: string; bytes: Buffer }): Error | undefined {
    try {
      const { boxes } = decodeRoi(roi.bytes, batch.features, row * FEATURES_PER_POST);
      batch.boxes.set(boxes, row * BOXES_PER_POST);
      this.stats.decoded++;
      return undefined;
    } catch (err) {
      this.deps.cache.delete(roi.key);
      batch.features.fill(0, row * FEATURES_PER_POST, (row + 1) * FEATURES_PER_POST);
      batch.boxes.fill(0, row * BOXES_PER_POST, (row + 1) * BOXES_PER_POST);
      if (err instanceof SafetensorsError)
        return new Error(`RoI object ${roi.key} is unreadable: ${err.message}`);
      return err as Error;
    }
  }

  /**
   * Sends a post back to featurization (state `featurizing`, flagged `refeaturized`, once) with a features job of
   * its own id (the first one may still be kept, and BullMQ never re-adds an id). A post already sent back gets
   * its job added again, a no-op unless the attempt that sent it back failed before adding it.
   */
  private async sendBack(model: HashtagModel, post: PostForPredict): Promise<ItemResult> {
    const detector = model.manifest.detector;
    try {
      if (post.state === "predicting" && !(await this.deps.repos.posts.markRefeaturizing(post.id)))
        return { outcome: "skipped" }; // another run of its job sent it back, or it moved on meanwhile
      await this.deps.features.add(
        "features",
        { batchId: post.batchId, postId: post.id },
        { jobId: jobIds.refeaturize(post.id, detector) },
      );
      this.deps.log.info(
        { postId: post.id, model: model.id, detector },
        "no RoI object for the model's detector; the post goes back to featurization",
      );
      return { outcome: "refeaturized" };
    } catch (err) {
      return { error: err as Error };
    }
  }

  /**
   * The post's RoI object for this model's detector. None there (NoSuchKey): back to featurization if it was not
   * sent back before (features of another detector, or the object was removed), else caption only, flagged. Anything
   * else (S3 unreachable) fails this post's attempt and its job is retried; an object still unreadable after every
   * attempt fails the post with the reason (`decodeInto`).
   */
  private async features(model: HashtagModel, post: PostForPredict): Promise<Features> {
    if (!post.imageSha256) return { flags: [] };
    const key = roiCacheKey(model.manifest.detector, post.imageSha256);
    const { cache, store } = this.deps;
    try {
      // a finished post is being relabeled: a later relabel reads its object again
      const readAgain = post.state === "done";
      return { roi: { key, bytes: await cache.get(key, () => store.get(key), readAgain) }, flags: [] };
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        if (post.state === "predicting" && !post.flags.includes(REFEATURIZED_FLAG))
          return { refeaturize: true };
        this.deps.log.warn(
          { postId: post.id, key },
          "no RoI object for the model's detector after featurizing again; predicting from the caption",
        );
        return { flags: ROI_MISSING_FLAGS };
      }
      return { error: err as Error };
    }
  }
}
