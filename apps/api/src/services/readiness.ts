import type { Logger } from "@lxtag/runtime";
import type { ApiDeps } from "../deps.js";

export type CheckState = "ok" | "unavailable";
export interface Readiness {
  ok: boolean;
  checks: { postgres: CheckState; redis: CheckState; s3: CheckState };
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

/** Whether Postgres, Redis and S3 answer. */
export async function readiness(deps: Pick<ApiDeps, "db" | "queues" | "store" | "log">): Promise<Readiness> {
  const [postgres, redis, s3] = await Promise.all([
    check("postgres", deps.log, () => deps.db.pool.query("SELECT 1")),
    check("redis", deps.log, () => deps.queues.ingest.getJobCounts("waiting")),
    check("s3", deps.log, () => deps.store.exists("readyz")),
  ]);
  return { ok: postgres === "ok" && redis === "ok" && s3 === "ok", checks: { postgres, redis, s3 } };
}
