import { type FeatureJob, type IngestJob, type PredictJob, QUEUES, type TrainingJob } from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import { createLogger, createQueue, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { type ApiConfig, loadConfig } from "./config.js";
import type { ApiDeps } from "./deps.js";

/** Connects the API's services (Postgres, S3, queues) from configuration. */
export function connect(config: ApiConfig = loadConfig()): ApiDeps & { close(): Promise<void> } {
  const db = createDb(config.DATABASE_URL);
  const store = new ObjectStore(storeOptions(config));
  const q = <T>(name: string) => createQueue<T>(name, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
  const queues = {
    ingest: q<IngestJob>(QUEUES.ingest),
    features: q<FeatureJob>(QUEUES.features),
    predict: q<PredictJob>(QUEUES.predict),
    training: q<TrainingJob>(QUEUES.training),
  };
  return {
    config,
    db,
    repos: repositories(db),
    store,
    queues,
    log: createLogger("api", config.LXTAG_LOG_LEVEL),
    async close() {
      await Promise.all(Object.values(queues).map((x) => x.close()));
      store.destroy();
      await db.close();
    },
  };
}
