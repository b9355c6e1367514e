// The predict worker process: configuration, connections, the worker, shutdown. The work is in predict-worker.ts.
import { createDb, repositories } from "@lxtag/db";
import { createLogger, onShutdown, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { loadConfig } from "./config.js";
import { startPredictWorker } from "./predict-worker.js";

const config = loadConfig();
const log = createLogger("predict-worker", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, {
  maxConnections: 4,
  onIdleError: (err) => log.warn({ err: err.message }, "idle Postgres connection lost"),
});
const store = new ObjectStore(storeOptions(config));
const metrics = new WorkerMetrics("predict-worker");
const predict = startPredictWorker({ repos: repositories(db), store, log, metrics }, config);
const metricsServer = metrics.serve(config.LXTAG_METRICS_PORT, log);

onShutdown(log, async () => {
  await predict.close();
  metricsServer?.close();
  store.destroy();
  await db.close();
});
