import { randomUUID } from "node:crypto";
import { type Poller, startPolling } from "@lxtag/runtime";
import {
  type ReconcileReport,
  Reconciler,
  type ReconcilerDeps,
  type ReconcilerOptions,
} from "./reconciler.js";

export interface StartReconcilerOptions extends ReconcilerOptions {
  /** Time between passes, ms; the first pass runs at once. */
  intervalMs: number;
  /** Hears of each pass that ran (tests, metrics). */
  onPass?: (report: ReconcileReport) => void;
}

/**
 * Runs the reconciler now and then every `intervalMs`, in whichever process hosts it. Several replicas of that
 * process share one pass per interval: a pass runs only where it claimed the interval in Redis (a key that expires
 * before the next one), so N replicas do not look at every post N times. A pass that fails (Redis or Postgres
 * down) is logged and tried again at the next interval.
 */
export function startReconciler(deps: ReconcilerDeps, options: StartReconcilerOptions): Poller {
  const reconciler = new Reconciler(deps, options);
  const { log } = deps;
  const token = randomUUID();
  return startPolling(
    options.intervalMs,
    async () => {
      if (!(await claimInterval(deps, token, options.intervalMs))) return undefined;
      const report = await reconciler.run();
      const acted =
        report.requeued.ingest +
          report.requeued.features +
          report.requeued.predict +
          report.failuresRecorded +
          report.abandonedUploads >
        0;
      log[acted ? "warn" : "debug"](
        report,
        acted ? "reconciled: unfinished work had no live job" : "reconciled",
      );
      options.onPass?.(report);
      return undefined;
    },
    (err) => log.warn({ err: err.message }, "reconciling failed; trying again at the next interval"),
  );
}

/** Claims this interval's pass for `token`, unless another replica claimed it (the key lives 90% of an interval). */
async function claimInterval(deps: ReconcilerDeps, token: string, intervalMs: number): Promise<boolean> {
  const queue = deps.queues.ingest;
  // BullMQ's ioredis adapter takes ioredis's own SET arguments (its typed `set` has no NX)
  const client = (await queue.client) as unknown as {
    set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<string | null>;
  };
  const key = `${queue.opts.prefix ?? "bull"}:reconciler:pass`;
  const ttl = Math.max(1, Math.floor(intervalMs * 0.9));
  return (await client.set(key, token, "PX", ttl, "NX")) === "OK";
}
