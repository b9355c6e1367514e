// The trainer service: training runs from the `training` queue (asked for through the API, or on
// LXTAG_TRAIN_SCHEDULE), one at a time. `npm run train` and the Kubernetes CronJob run one directly instead.
import { createDb, repositories } from "@lxtag/db";
import { createLogger, onShutdown, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { loadConfig } from "./config.js";
import { startTrainerService } from "./trainer-service.js";

const config = loadConfig();
const log = createLogger("trainer", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, {
  onIdleError: (err) => log.warn({ err: err.message }, "idle Postgres connection lost"),
});
const store = new ObjectStore(storeOptions(config));
const service = await startTrainerService({ config, repos: repositories(db), store }, log);
log.info({ schedule: config.LXTAG_TRAIN_SCHEDULE || null }, "trainer ready");

onShutdown(log, async () => {
  await service.close();
  store.destroy();
  await db.close();
});
