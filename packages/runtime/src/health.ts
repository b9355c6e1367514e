import type { Worker } from "bullmq";

/**
 * A worker process's own readiness, answered on `/readyz`: resolves with why it is not ready (a short phrase an
 * operator can read; never error text or addresses), or `undefined` when it is.
 */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

/** How long `/readyz` waits for a check (and a check for Redis) before answering not ready. */
export const READINESS_TIMEOUT_MS = 2000;

/**
 * Ready while `current()` gives a BullMQ worker that runs, is not paused or closing, and whose Redis connection is
 * up. `absent` says why while there is no worker yet (e.g. a feature worker waiting for its detector), or is asked at
 * each check when the reason changes. Redis lost makes the process not ready but still live: the worker reconnects
 * by itself, a restart would not help.
 */
export function workerReadiness(
  current: () => Worker | undefined,
  absent: string | (() => string) = "starting",
): ReadinessCheck {
  return async () => {
    const worker = current();
    if (!worker) return typeof absent === "string" ? absent : absent();
    if (worker.closing) return "closing";
    if (!worker.isRunning()) return "not running";
    if (worker.isPaused()) return "paused";
    // `client` waits for the first connection; a Redis that never answered leaves it pending
    const client = await within(worker.client, READINESS_TIMEOUT_MS / 2);
    return client?.status === "ready" ? undefined : "redis not connected";
  };
}

/** `promise`'s value, or `undefined` when it takes longer than `ms` (or rejects). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
