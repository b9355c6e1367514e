import {
  type FeatureJob,
  type IngestJob,
  type PredictJob,
  QUEUES,
  type RelabelJob,
  type TrainingJob,
} from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import { createLogger, createQueue, redisConnection, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { Redis, type RedisOptions } from "ioredis";
import { type ApiConfig, loadConfig } from "./config.js";
import type { ApiDeps } from "./deps.js";
import { UploadSpool } from "./services/upload-spool.js";

/** Connects the API's services (Postgres, S3, queues) from configuration. */
export function connect(config: ApiConfig = loadConfig()): ApiDeps & { close(): Promise<void> } {
  const db = createDb(config.DATABASE_URL, { service: "api" });
  const store = new ObjectStore(storeOptions(config));
  const q = <T>(name: string) => createQueue<T>(name, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
  const queues = {
    ingest: q<IngestJob>(QUEUES.ingest),
    features: q<FeatureJob>(QUEUES.features),
    predict: q<PredictJob | RelabelJob>(QUEUES.predict),
    training: q<TrainingJob>(QUEUES.training),
  };
  // Commands fail at once while Redis is unreachable (no offline queue, no retries): the rate limit then lets
  // requests through rather than holding them; /readyz says that Redis is down.
  const redis = new Redis({
    ...(redisConnection(config.LXTAG_REDIS_URL) as RedisOptions),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  redis.on("error", () => {}); // reconnects on its own; without a listener ioredis prints every attempt
  return {
    config,
    db,
    repos: repositories(db),
    store,
    spool: new UploadSpool(config.LXTAG_UPLOAD_SPOOL_DIR),
    queues,
    redis,
    log: createLogger("api", config.LXTAG_LOG_LEVEL),
    async close() {
      await Promise.all(Object.values(queues).map((x) => x.close()));
      redis.disconnect();
      store.destroy();
      await db.close();
    },
  };
}
