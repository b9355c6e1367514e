import { join } from "node:path";
import {
  CURRENT_DETECTOR_KEY,
  currentDetectorSchema,
  detectorBundlePrefix,
  featureJobSchema,
  type PredictJob,
  QUEUES,
} from "@lxtag/contracts";
import { createDb, failPost, repositories } from "@lxtag/db";
import {
  createLogger,
  createQueue,
  onFinalFailure,
  onShutdown,
  storeOptions,
  WorkerMetrics,
  workerOptions,
} from "@lxtag/runtime";
import { fetchBundle, ObjectStore } from "@lxtag/storage";
import { Detector } from "@lxtag/vision";
import { UnrecoverableError, Worker } from "bullmq";
import { loadConfig } from "./config.js";
import { featurize } from "./featurize.js";

const config = loadConfig();
const log = createLogger("feature-worker", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, 4);
const repos = repositories(db);
const store = new ObjectStore(storeOptions(config));
const predict = createQueue<PredictJob>(QUEUES.predict, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);

const detectorId =
  config.LXTAG_DETECTOR_ID ??
  currentDetectorSchema.parse(JSON.parse((await store.get(CURRENT_DETECTOR_KEY)).toString())).id;
const dir = await fetchBundle(
  store,
  detectorBundlePrefix(detectorId),
  join(config.LXTAG_CACHE_DIR, "detectors", detectorId),
);
// loaded once per process, never per job
const detector = await Detector.load(dir, {
  executionProviders: config.LXTAG_EXECUTION_PROVIDERS,
  intraOpThreads: config.LXTAG_ORT_THREADS,
});
log.info(
  {
    detector: detector.id,
    weights: detector.manifest.weights,
    selection: detector.manifest.selection.mode,
    provider: detector.provider,
    imageBatch: config.LXTAG_IMAGE_BATCH,
  },
  "detector loaded",
);

const deps = {
  repos,
  store,
  detector:
    config.LXTAG_IMAGE_BATCH > 1
      ? detector.batching({
          maxBatchSize: config.LXTAG_IMAGE_BATCH,
          maxWaitMs: config.LXTAG_IMAGE_BATCH_WAIT_MS,
        })
      : detector,
  predict,
  log,
  maxImageBytes: config.LXTAG_MAX_IMAGE_BYTES,
  maxImagePixels: config.LXTAG_MAX_IMAGE_PIXELS,
};
const worker = new Worker(
  QUEUES.features,
  async (job) => {
    const parsed = featureJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad features payload: ${parsed.error.message}`);
    const started = performance.now();
    const outcome = await featurize(parsed.data.postId, {
      ...deps,
      log: log.child({ jobId: job.id, queue: QUEUES.features }),
    });
    log.debug(
      { jobId: job.id, outcome, ms: Math.round(performance.now() - started), detectorRuns: detector.runs },
      "featurized",
    );
    return { outcome, detectorRuns: detector.runs };
  },
  workerOptions(config, config.LXTAG_FEATURE_CONCURRENCY),
);
const metrics = new WorkerMetrics("feature-worker");
metrics.watch(worker); // durations by outcome: cached, detected, caption-only
const metricsServer = metrics.serve(config.LXTAG_METRICS_PORT, log);
onFinalFailure(worker, log, async (job, err) => {
  const parsed = featureJobSchema.safeParse(job.data);
  if (parsed.success) await failPost(repos, parsed.data, `features-failed: ${err.message}`);
});
log.info({ concurrency: config.LXTAG_FEATURE_CONCURRENCY }, "feature worker ready");

onShutdown(log, async () => {
  await worker.close();
  metricsServer?.close();
  await predict.close();
  await detector.dispose();
  store.destroy();
  await db.close();
});
