// Test support (not built): the trainer's services on a scratch database (its own model registry and training
// history), with a detector id, queue prefix and cache folder of their own.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db, type Repositories, repositories } from "@lxtag/db";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { scratchDatabase } from "@lxtag/testkit";
import type { TrainerServices } from "../cli/services.js";
import { loadConfig } from "../config.js";

export interface TrainerHarness {
  services: TrainerServices;
  db: Db;
  repos: Repositories;
  close(): Promise<void>;
}

export async function trainerHarness(env: Record<string, string> = {}): Promise<TrainerHarness> {
  const base = loadConfig();
  const scratch = await scratchDatabase(base.DATABASE_URL);
  const cache = await mkdtemp(join(tmpdir(), "lxtag-train-"));
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: scratch.url,
    LXTAG_CACHE_DIR: cache,
    LXTAG_DETECTOR_ID: `test-train-${randomUUID().slice(0, 8)}`,
    LXTAG_QUEUE_PREFIX: `lxtag-train-${randomUUID().slice(0, 8)}`,
    LXTAG_LOG_LEVEL: "silent",
    LXTAG_TRAIN_EPOCHS: "3",
    // one candidate, no blend: tests that weigh several ask for them
    LXTAG_TRAIN_CANDIDATES: "lxmert4hashtag",
    LXTAG_TRAIN_BLEND: "false",
    ...env,
  });
  const db = createDb(config.DATABASE_URL, 4);
  const store = new ObjectStore(storeOptions(config));
  const repos = repositories(db);
  return {
    services: { config, repos, store },
    db,
    repos,
    async close() {
      store.destroy();
      await db.close();
      await scratch.drop();
      await rm(cache, { recursive: true, force: true });
    },
  };
}
