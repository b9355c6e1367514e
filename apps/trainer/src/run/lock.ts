import { SessionLock } from "@lxtag/db";

// advisory lock ids in use: 72707369 the migrator, 72707370 model activation
const TRAINING_RUN_LOCK_ID = 72707371;

/** Another training run holds the lock: this one did not start and changed nothing. */
export class TrainingRunInProgressError extends Error {
  override name = "TrainingRunInProgressError";
  constructor() {
    super("another training run is in progress (it holds the training lock); try again when it has finished");
  }
}

/**
 * One training run at a time, per database: a session advisory lock on a connection of its own, held for the
 * whole run. A crashed or killed run's connection ends with its process and Postgres releases the lock then.
 * Throws {@link TrainingRunInProgressError} when another run holds it.
 */
export async function acquireRunLock(databaseUrl: string): Promise<SessionLock> {
  const lock = await SessionLock.tryAcquire(databaseUrl, TRAINING_RUN_LOCK_ID, "training-run");
  if (!lock) throw new TrainingRunInProgressError();
  return lock;
}
