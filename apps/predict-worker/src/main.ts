// The predict worker process: configuration, connections, the worker, shutdown. The work is in predict-worker.ts.
import { type FeatureJob, QUEUES } from "@lxtag/contracts";
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
import { startPredictWorker } from "./predict-worker.js";

const config = loadConfig();
const log = createLogger("predict-worker", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, {
  service: "predict-worker",
  maxConnections: 4,
  onIdleError: (err) => log.warn({ err: err.message }, "idle Postgres connection lost"),
});
const store = new ObjectStore(storeOptions(config));
// posts whose image has no RoI object for the serving model's detector go back to featurization
const features = createQueue<FeatureJob>(QUEUES.features, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
features.on("error", (err) => log.warn({ err: err.message }, "features queue connection error"));
const metrics = new WorkerMetrics("predict-worker");
const predict = startPredictWorker({ repos: repositories(db), store, features, log, metrics }, config);
const metricsServer = metrics.serve(
  config.LXTAG_METRICS_PORT,
  log,
  config.LXTAG_METRICS_HOST,
  workerReadiness(
    () => predict.worker,
    () => {
      const refused = predict.loader.refused;
      return refused ? `model ${refused} failed its warm-up; waiting for another` : "waiting for a model";
    },
  ),
);

onShutdown(log, async () => {
  await predict.close();
  metricsServer?.close();
  await features.close();
  store.destroy();
  await db.close();
});
