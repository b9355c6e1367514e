import { Queue, type QueueOptions, type RedisOptions, type WorkerOptions } from "bullmq";
import type { ServiceEnv } from "./config.js";
import { BACKOFF_TYPE, backoffStrategy, retryPolicy } from "./retry.js";

export function redisConnection(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password || undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
  };
}

/**
 * Every lxtag job's retry options. The worker's `backoffStrategy` (retry.ts, from the worker's settings) decides
 * each retry: an infrastructure error is retried with capped exponential backoff for LXTAG_RETRY_BUDGET_MS, any
 * other error LXTAG_RETRY_ATTEMPTS times in all; `attempts` is only a ceiling far above both. Jobs queued with
 * BullMQ's built-in types before (`exponential`) keep theirs.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 1000,
  backoff: { type: BACKOFF_TYPE },
} as const;

// Finished jobs are trimmed (BullMQ keeps them forever by default); failed ones are kept longer for inspection.
// Set on the workers rather than on every job: per-job options cost addBulk about a quarter of its speed.
const RETENTION = { removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } };

export function createQueue<T>(
  name: string,
  redisUrl: string,
  prefix: string,
  extra: Partial<QueueOptions> = {},
): Queue<T> {
  return new Queue<T>(name, {
    connection: { ...redisConnection(redisUrl), enableOfflineQueue: false },
    prefix,
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
    ...extra,
  });
}

/** Adds jobs in chunks: BullMQ's addBulk is atomic, and very large bulks are slow and fragile. */
export async function addBulkChunked<T>(
  queue: Queue<T>,
  jobs: { name: string; data: T; opts: { jobId: string } }[],
  chunk = 1000,
): Promise<void> {
  for (let i = 0; i < jobs.length; i += chunk)
    await queue.addBulk(jobs.slice(i, i + chunk) as Parameters<Queue<T>["addBulk"]>[0]);
}

/**
 * A job found without its lock this many times (its worker died, or lost Redis while running it) is failed for
 * good. Higher than BullMQ's 1: a Redis restart can expire the locks of every job in flight, and two outages in
 * a job's life must not fail its post; a job that kills its worker each time still fails after 3 tries.
 */
const MAX_STALLED = 3;

/**
 * Options every lxtag worker uses: the shared connection and prefix, the lock (and stalled-check) period, and the
 * retry policy of `DEFAULT_JOB_OPTIONS`.
 */
export function workerOptions(env: ServiceEnv, concurrency: number): WorkerOptions {
  return {
    connection: redisConnection(env.LXTAG_REDIS_URL),
    prefix: env.LXTAG_QUEUE_PREFIX,
    concurrency,
    lockDuration: env.LXTAG_JOB_LOCK_MS,
    stalledInterval: env.LXTAG_JOB_LOCK_MS,
    maxStalledCount: MAX_STALLED,
    settings: { backoffStrategy: backoffStrategy(retryPolicy(env)) },
    ...RETENTION,
  };
}
