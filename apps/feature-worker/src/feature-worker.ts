import { type FeatureJob, featureJobSchema, type PredictJob, QUEUES } from "@lxtag/contracts";
import { failPost, type Repositories } from "@lxtag/db";
import { type Logger, runWorker, type WorkerMetrics } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import type { Detector, ImageDetector } from "@lxtag/vision";
import type { Queue, Worker } from "bullmq";
import type { FeatureConfig } from "./config.js";
import { featurize } from "./featurize.js";

export interface FeatureWorkerDeps {
  repos: Repositories;
  store: ObjectStore;
  detector: Detector;
  /** Where featurized posts go next. */
  predict: Queue<PredictJob>;
  log: Logger;
  /** Job durations by outcome (cached, detected, caption-only) and images per detector run. */
  metrics?: WorkerMetrics;
}

export interface FeatureWorker {
  readonly worker: Worker;
  /** Stops taking jobs and waits for those in flight; the deps stay open (their owner closes them). */
  close(): Promise<void>;
}

/** Consumes the features queue: one post per job, its image's RoIs cached in S3, the post handed to prediction. */
export function startFeatureWorker(deps: FeatureWorkerDeps, config: FeatureConfig): FeatureWorker {
  const { repos, log, metrics } = deps;
  const imagesPerRun = metrics?.histogram(
    "lxtag_feature_image_batch_size",
    "Images per detector batch (one detectBatch call)",
    [1, 2, 4, 8, 16, 32],
  );
  const detector: ImageDetector =
    config.LXTAG_IMAGE_BATCH > 1
      ? deps.detector.batching({
          maxBatchSize: config.LXTAG_IMAGE_BATCH,
          maxWaitMs: config.LXTAG_IMAGE_BATCH_WAIT_MS,
          onBatch: (size) => imagesPerRun?.observe(size),
        })
      : {
          id: deps.detector.id,
          detect: (image) => {
            imagesPerRun?.observe(1);
            return deps.detector.detect(image);
          },
        };
  const limits = {
    maxBytes: config.LXTAG_MAX_IMAGE_BYTES,
    timeoutMs: config.LXTAG_IMAGE_FETCH_TIMEOUT_MS,
    maxPixels: config.LXTAG_MAX_IMAGE_PIXELS,
  };
  const worker = runWorker<FeatureJob, { outcome: string }>({
    queue: QUEUES.features,
    schema: featureJobSchema,
    config,
    concurrency: config.LXTAG_FEATURE_CONCURRENCY,
    log,
    metrics,
    process: async ({ postId }, ctx) => {
      const started = performance.now();
      const outcome = await featurize(postId, { ...deps, detector, limits, log: ctx.log });
      ctx.log.debug({ outcome, ms: Math.round(performance.now() - started) }, "featurized");
      return { outcome };
    },
    onFinalFailure: (job, err) => failPost(repos, job, `features-failed: ${err.message}`),
  });
  return { worker, close: () => worker.close() };
}
