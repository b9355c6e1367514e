import type { FeatureJob, IngestJob, PredictJob, RelabelJob, TrainingJob } from "@lxtag/contracts";
import type { Db, Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { ApiConfig } from "./config.js";
import type { UploadSpool } from "./services/upload-spool.js";

/** What the API's routes need; built once in main.ts (or by a test) and passed in. */
export interface ApiDeps {
  config: ApiConfig;
  db: Db;
  repos: Repositories;
  store: ObjectStore;
  /** Local copies of uploads, for the ingest job on this host. */
  spool: UploadSpool;
  /** Every queue the API adds to or reports on (/queues, /metrics): the trainer scales on `training`'s backlog. */
  queues: {
    ingest: Queue<IngestJob>;
    features: Queue<FeatureJob>;
    /** Predict jobs (the reconciler's) and relabel jobs share the predict queue. */
    predict: Queue<PredictJob | RelabelJob>;
    training: Queue<TrainingJob>;
  };
  /** The rate limit's counters (a connection of its own that fails fast while Redis is down). */
  redis: Redis;
  log: Logger;
}
