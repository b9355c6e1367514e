// The feature worker process: configuration, connections, the worker, shutdown. The work is in feature-worker.ts.
import { type PredictJob, QUEUES } from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import { createLogger, createQueue, onShutdown, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { loadConfig } from "./config.js";
import { startFeatureWorker } from "./feature-worker.js";
import { loadServingDetector } from "./serving-detector.js";

const config = loadConfig();
const log = createLogger("feature-worker", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, {
  maxConnections: 4,
  onIdleError: (err) => log.warn({ err: err.message }, "idle Postgres connection lost"),
});
const store = new ObjectStore(storeOptions(config));
const predict = createQueue<PredictJob>(QUEUES.predict, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
// while Redis is away adds fail (and their jobs are retried); say so once per error instead of on the console
predict.on("error", (err) => log.warn({ err: err.message }, "predict queue connection error"));
const detector = await loadServingDetector(store, config);
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
const metrics = new WorkerMetrics("feature-worker");
const features = startFeatureWorker(
  { repos: repositories(db), store, detector, predict, log, metrics },
  config,
);
const metricsServer = metrics.serve(config.LXTAG_METRICS_PORT, log);
log.info({ concurrency: config.LXTAG_FEATURE_CONCURRENCY }, "feature worker ready");

onShutdown(log, async () => {
  await features.close();
  metricsServer?.close();
  await predict.close();
  await detector.dispose();
  store.destroy();
  await db.close();
});
