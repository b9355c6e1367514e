import { roiCacheKey } from "@lxtag/contracts";
import type { PostForPredict, Repositories } from "@lxtag/db";
import {
  DynamicBatcher,
  type DynamicBatcherOptions,
  type HashtagModel,
  type ModelInput,
} from "@lxtag/inference";
import type { Logger } from "@lxtag/runtime";
import { decodeRoi, ObjectNotFoundError, type ObjectStore, SafetensorsError } from "@lxtag/storage";

export type PredictOutcome = "done" | "skipped";

/** Flags of a post whose RoI object is gone: predicted from its caption alone. */
export const ROI_MISSING_FLAGS = ["caption-only", "roi-missing"];

export interface PredictorDeps {
  repos: Repositories;
  store: ObjectStore;
  log: Logger;
  topK: number;
  /** Runs a micro-batch on the serving model, which stays loaded until the batch is written. */
  withModel: <T>(fn: (model: HashtagModel) => Promise<T>) => Promise<T>;
  /** Called after each micro-batch with its size and duration (metrics). */
  observeBatch?: (size: number, seconds: number) => void;
}

/** One post's part of a micro-batch: its outcome, or the error its job fails with. */
type ItemResult = { outcome: PredictOutcome } | { error: Error };

/** A post's model input, or why it has none now. */
type Features = { input: ModelInput; flags: string[] } | { error: Error };

/**
 * Micro-batches concurrent predict jobs into one ONNX run, then writes the posts' ranked hashtags in one
 * transaction. A post whose RoI object is gone is predicted from its caption and flagged; a post whose RoI cannot
 * be read now (an S3 outage) fails alone, so its job is retried while the rest of its batch is written.
 */
export class Predictor {
  readonly batcher: DynamicBatcher<string, ItemResult>;

  constructor(
    private readonly deps: PredictorDeps,
    options: DynamicBatcherOptions,
  ) {
    this.batcher = new DynamicBatcher(
      (ids) => this.deps.withModel((model) => this.runBatch(model, ids)),
      options,
    );
  }

  async predict(postId: string): Promise<PredictOutcome> {
    const result = await this.batcher.submit(postId);
    if ("error" in result) throw result.error;
    return result.outcome;
  }

  private async runBatch(model: HashtagModel, ids: string[]): Promise<ItemResult[]> {
    const started = performance.now();
    const { repos } = this.deps;
    const posts = new Map((await repos.posts.forPredict(ids)).map((p) => [p.id, p]));
    const todo = [...posts.values()].filter((p) => p.state === "predicting" || p.state === "done");
    const features = await Promise.all(todo.map((post) => this.features(model, post)));
    const failed = new Map<string, Error>();
    const ready: { post: PostForPredict; input: ModelInput; flags: string[] }[] = [];
    todo.forEach((post, i) => {
      const f = features[i]!;
      if ("error" in f) failed.set(post.id, f.error);
      else ready.push({ post, ...f });
    });
    const ranked = ready.length
      ? await model.rank(
          ready.map((r) => r.input),
          this.deps.topK,
        )
      : [];
    await repos.posts.savePredictions(
      model.id,
      ready.map((r, i) => ({ postId: r.post.id, ranked: ranked[i]!, flags: r.flags })),
    );
    await repos.batches.completeIfFinished([...new Set(ready.map((r) => r.post.batchId))]);
    this.deps.observeBatch?.(ids.length, (performance.now() - started) / 1000);
    const done = new Set(ready.map((r) => r.post.id));
    return ids.map((id) => {
      const error = failed.get(id);
      if (error) return { error };
      return { outcome: done.has(id) ? "done" : "skipped" };
    });
  }

  /**
   * The post's RoI tensors for this model's detector. Gone for good (NoSuchKey): caption only, flagged. Anything
   * else (S3 unreachable, or an unreadable object) fails this post's attempt and its job is retried: S3-compatible
   * stores that write objects in place (s3rver does) can serve a half-written object while another feature job
   * stores the same image's RoIs, and the retry reads it whole. An object still unreadable after every attempt
   * fails the post with the reason.
   */
  private async features(model: HashtagModel, post: PostForPredict): Promise<Features> {
    if (!post.imageSha256) return { input: { text: post.modelText }, flags: [] };
    const key = roiCacheKey(model.manifest.detector, post.imageSha256);
    try {
      const roi = decodeRoi(await this.deps.store.get(key));
      return { input: { text: post.modelText, features: roi.features, boxes: roi.boxes }, flags: [] };
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        this.deps.log.warn({ postId: post.id, key }, "RoI features gone; predicting from the caption");
        return { input: { text: post.modelText }, flags: ROI_MISSING_FLAGS };
      }
      if (err instanceof SafetensorsError)
        return { error: new Error(`RoI object ${key} is unreadable: ${err.message}`) };
      return { error: err as Error };
    }
  }
}
