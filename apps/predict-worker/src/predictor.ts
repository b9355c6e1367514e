import { roiCacheKey } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { DynamicBatcher, type DynamicBatcherOptions } from "@lxtag/inference";
import type { Logger } from "@lxtag/runtime";
import { decodeRoi, type ObjectStore } from "@lxtag/storage";
import type { HashtagModel, ModelInput } from "./hashtag-model.js";

export interface PredictorDeps {
  repos: Repositories;
  store: ObjectStore;
  log: Logger;
  topK: number;
  model: () => HashtagModel;
  /** Called after each micro-batch with its size and duration (metrics). */
  observeBatch?: (size: number, seconds: number) => void;
}

/**
 * Micro-batches concurrent predict jobs into one ONNX run, then writes every post's ranked hashtags in one
 * transaction. A post whose RoI object is gone is predicted from its caption and flagged.
 */
export class Predictor {
  readonly batcher: DynamicBatcher<string, "done" | "skipped">;

  constructor(
    private readonly deps: PredictorDeps,
    options: DynamicBatcherOptions,
  ) {
    this.batcher = new DynamicBatcher((ids) => this.runBatch(ids), options);
  }

  predict(postId: string): Promise<"done" | "skipped"> {
    return this.batcher.submit(postId);
  }

  private async runBatch(ids: string[]): Promise<("done" | "skipped")[]> {
    const started = performance.now();
    const { repos, store } = this.deps;
    const model = this.deps.model();
    const posts = new Map((await repos.posts.forPredict(ids)).map((p) => [p.id, p]));
    const todo = ids.filter((id) => posts.get(id)?.state === "predicting" || posts.get(id)?.state === "done");
    const inputs: ModelInput[] = await Promise.all(
      todo.map(async (id) => {
        const post = posts.get(id)!;
        if (!post.imageSha256) return { text: post.modelText };
        try {
          const roi = decodeRoi(await store.get(roiCacheKey(model.manifest.detector, post.imageSha256)));
          return { text: post.modelText, features: roi.features, boxes: roi.boxes };
        } catch (err) {
          this.deps.log.warn(
            { postId: id, err: (err as Error).message },
            "RoI features unavailable; caption only",
          );
          return { text: post.modelText };
        }
      }),
    );
    const ranked = todo.length ? await model.rank(inputs, this.deps.topK) : [];
    await repos.posts.savePredictions(
      model.id,
      todo.map((postId, i) => ({ postId, ranked: ranked[i]! })),
    );
    await repos.batches.completeIfFinished([...new Set(todo.map((id) => posts.get(id)!.batchId))]);
    this.deps.observeBatch?.(ids.length, (performance.now() - started) / 1000);
    return ids.map((id) => (todo.includes(id) ? "done" : "skipped"));
  }
}
