import type { FeatureJob, IngestJob, PredictJob } from "@lxtag/contracts";
import type { Db, Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import type { Queue } from "bullmq";
import type { ApiConfig } from "./config.js";

/** What the API's routes need; built once in main.ts (or by a test) and passed in. */
export interface ApiDeps {
  config: ApiConfig;
  db: Db;
  repos: Repositories;
  store: ObjectStore;
  queues: { ingest: Queue<IngestJob>; features: Queue<FeatureJob>; predict: Queue<PredictJob> };
  log: Logger;
}
