import { type ConnectionOptions, Queue, type QueueOptions, type WorkerOptions } from "bullmq";
import type { ServiceEnv } from "./config.js";

export function redisConnection(url: string): ConnectionOptions {
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
 * Every lxtag job retries a thrown error with exponential backoff: 1 s, 2 s, 4 s ... 64 s before attempts 2..8,
 * each drawn from the upper half of that (jitter, so jobs failed by one outage do not all return at once).
 * Seven retries span at least 63 s: a Redis, Postgres or S3 outage of half a minute (a restart, a failover) is
 * ridden out, and only a fault that outlasts it fails a post. Input that can never work is not retried at all
 * (`UnrecoverableError`), so the long tail costs only genuinely stuck jobs.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
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

/** Options every lxtag worker uses: the shared connection and prefix, and the lock (and stalled-check) period. */
export function workerOptions(env: ServiceEnv, concurrency: number): WorkerOptions {
  return {
    connection: redisConnection(env.LXTAG_REDIS_URL),
    prefix: env.LXTAG_QUEUE_PREFIX,
    concurrency,
    lockDuration: env.LXTAG_JOB_LOCK_MS,
    stalledInterval: env.LXTAG_JOB_LOCK_MS,
    ...RETENTION,
  };
}
