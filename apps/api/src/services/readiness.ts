import { WAITING_FOR_FIRST_MODEL } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import type { ApiDeps } from "../deps.js";

export type CheckState = "ok" | "unavailable";
/** Whether a model version serves; without one the API works and posts wait for prediction, unfailed. */
export type ModelState = "ok" | typeof WAITING_FOR_FIRST_MODEL | "unavailable";
export interface Readiness {
  /** Postgres, Redis and S3 answer; the model does not count (the API works without one). */
  ok: boolean;
  checks: { postgres: CheckState; redis: CheckState; s3: CheckState };
  model: ModelState;
}

/** A probe must answer before its caller gives up, so a hung dependency counts as unavailable. */
const CHECK_TIMEOUT_MS = 3000;

async function check(name: string, log: Logger, probe: () => Promise<unknown>): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return "ok";
  } catch (err) {
    // the reason is for operators; the probe's caller (anyone) sees "unavailable"
    log.warn({ err, check: name }, "readiness check failed");
    return "unavailable";
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether Postgres, Redis and S3 answer, and whether a model serves. A fresh install has no model until the
 * trainer activates one: the API still takes uploads and answers (posts wait for prediction), so that is not a
 * reason to take the API out of service, only something to show.
 */
export async function readiness(
  deps: Pick<ApiDeps, "db" | "repos" | "queues" | "store" | "log">,
): Promise<Readiness> {
  let active = false;
  const [postgres, redis, s3, registry] = await Promise.all([
    check("postgres", deps.log, () => deps.db.pool.query("SELECT 1")),
    check("redis", deps.log, () => deps.queues.ingest.getJobCounts("waiting")),
    check("s3", deps.log, () => deps.store.exists("readyz")),
    check("model", deps.log, async () => {
      active = (await deps.repos.models.active()) !== null;
    }),
  ]);
  const model = registry === "ok" ? (active ? "ok" : WAITING_FOR_FIRST_MODEL) : "unavailable";
  return { ok: postgres === "ok" && redis === "ok" && s3 === "ok", checks: { postgres, redis, s3 }, model };
}
