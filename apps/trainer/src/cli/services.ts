import { createDb, type Repositories, repositories } from "@lxtag/db";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { loadConfig, type TrainerConfig } from "../config.js";

export interface TrainerServices {
  config: TrainerConfig;
  repos: Repositories;
  store: ObjectStore;
}

/** Runs one command with the trainer's configuration and connections, closed afterwards whatever happens. A
 * failure prints its message and exits non-zero (the caller, a person or a process, reads stderr). */
export async function runCommand(command: (services: TrainerServices) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, { service: "trainer-command" });
  const store = new ObjectStore(storeOptions(config));
  try {
    await command({ config, repos: repositories(db), store });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  } finally {
    store.destroy();
    await db.close();
  }
}

/** The last line a command prints: one JSON object a calling process can parse. */
export const printResult = (result: object) => console.log(JSON.stringify(result));
