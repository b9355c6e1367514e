// The trainer service: training runs from the `training` queue (asked for through the API, or on
// LXTAG_TRAIN_SCHEDULE), one at a time. `npm run train` and the Kubernetes CronJob run one directly instead.
import { createDb, repositories } from "@lxtag/db";
import { createLogger, onShutdown, storeOptions, WorkerMetrics, workerReadiness } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { loadConfig } from "./config.js";
import { startTrainerService, type TrainerService } from "./trainer-service.js";

const config = loadConfig();
const log = createLogger("trainer", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, {
  service: "trainer",
  onIdleError: (err) => log.warn({ err: err.message }, "idle Postgres connection lost"),
});
const store = new ObjectStore(storeOptions(config));
// health first: starting the service waits for Redis, and a probe that finds no server would restart the pod
let service: TrainerService | undefined;
const metricsServer = new WorkerMetrics("trainer").serve(
  config.LXTAG_METRICS_PORT,
  log,
  config.LXTAG_METRICS_HOST,
  workerReadiness(() => service?.worker),
);
service = await startTrainerService({ config, repos: repositories(db), store }, log);
log.info({ schedule: config.LXTAG_TRAIN_SCHEDULE || null }, "trainer ready");

onShutdown(log, async () => {
  await service?.close();
  metricsServer?.close();
  store.destroy();
  await db.close();
});
