// The feature worker process: configuration, connections, the worker, shutdown. The work is in feature-worker.ts.
import { type PredictJob, QUEUES } from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import {
  createLogger,
  createQueue,
  onShutdown,
  storeOptions,
  WorkerMetrics,
  workerReadiness,
} from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { loadConfig } from "./config.js";
import { startFeatureWorker } from "./feature-worker.js";
import { forgetDetector, loadServingDetector } from "./serving-detector.js";

const config = loadConfig();
const log = createLogger("feature-worker", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, {
  service: "feature-worker",
  maxConnections: 4,
  onIdleError: (err) => log.warn({ err: err.message }, "idle Postgres connection lost"),
});
const store = new ObjectStore(storeOptions(config));
const predict = createQueue<PredictJob>(QUEUES.predict, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
// while Redis is away adds fail (and their jobs are retried); say so once per error instead of on the console
predict.on("error", (err) => log.warn({ err: err.message }, "predict queue connection error"));
const metrics = new WorkerMetrics("feature-worker");
// on a fresh install no detector is published yet: the worker waits for one (the trainer's ensure-detector Job
// provisions it) instead of exiting, which would only crash-loop
const features = startFeatureWorker(
  {
    repos: repositories(db),
    store,
    loadDetector: (loaded) => loadServingDetector(store, config, loaded),
    forgetDetector: (id) => forgetDetector(config, id),
    predict,
    log,
    metrics,
  },
  config,
);
// served at once, so liveness holds while no detector is published yet; /readyz says so until the worker takes jobs
const metricsServer = metrics.serve(
  config.LXTAG_METRICS_PORT,
  log,
  config.LXTAG_METRICS_HOST,
  workerReadiness(() => features.worker, "waiting for a serving detector"),
);

onShutdown(log, async () => {
  await features.close();
  metricsServer?.close();
  await predict.close();
  await features.detector?.dispose();
  store.destroy();
  await db.close();
});
