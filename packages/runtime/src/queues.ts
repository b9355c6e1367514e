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

export const DEFAULT_JOB_OPTIONS = { attempts: 3, backoff: { type: "exponential", delay: 1000 } } as const;

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
