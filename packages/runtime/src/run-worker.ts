import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { z } from "zod";
import type { ServiceEnv } from "./config.js";
import type { Logger } from "./logger.js";
import type { WorkerMetrics } from "./metrics.js";
import { workerOptions } from "./queues.js";
import { BACKOFF_TYPE, type RetryPolicy, retryDelay, retryPolicy, withTransientRetry } from "./retry.js";

export interface RunWorkerOptions<T, R> {
  /** Queue name (from `QUEUES`). */
  queue: string;
  /** Validates `job.data`; a payload that does not parse fails at once, without retries. */
  schema: z.ZodType<T>;
  config: ServiceEnv;
  /** Jobs in flight in this process. */
  concurrency: number;
  log: Logger;
  /**
   * The job's work, with a child logger that names the job. Throw to retry with backoff: an infrastructure error
   * (`isTransientError`) for as long as an outage may last, anything else a few times (`RetryPolicy`); throw
   * `UnrecoverableError` to fail at once (input that can never work, with its reason).
   */
  process: (data: T, ctx: { job: Job; log: Logger }) => Promise<R>;
  /**
   * Called once when a job will not be retried any more, to record the failure where users see it. Retried through
   * an outage of what it writes to (transient errors, for LXTAG_RETRY_BUDGET_MS); a failure still unrecorded then
   * is the reconciler's to record (`@lxtag/reconciler`), from the failed job.
   */
  onFinalFailure?: (data: T, err: Error, job: Job) => Promise<void>;
  /** Observes job durations and failures. */
  metrics?: WorkerMetrics;
}

/**
 * Whether a failed attempt was the job's last: BullMQ sets `finishedOn` only when it moves the job to failed for
 * good (no attempt left, an `UnrecoverableError`, or too many stalls), never when it schedules a retry.
 */
export function isFinalFailure(job: Job, err: Error): boolean {
  return (
    job.finishedOn !== undefined ||
    err instanceof UnrecoverableError ||
    job.attemptsMade >= (job.opts.attempts ?? 1)
  );
}

/**
 * Whether BullMQ will retry the job if the attempt in progress fails with `err`, as the workers' `backoffStrategy`
 * (`policy`) decides it: for work an attempt hands on before it fails, which the job's final failure hands on too.
 */
export function retriesAfter(policy: RetryPolicy, job: Job, err: unknown): boolean {
  const failures = job.attemptsMade + 1; // this attempt's failure included
  // BullMQ knows an UnrecoverableError by its name
  if ((err as Error | undefined)?.name === UnrecoverableError.name || failures >= (job.opts.attempts ?? 1))
    return false;
  const { backoff } = job.opts;
  // a job queued with BullMQ's own backoff (or none) is retried until its attempts run out
  if (typeof backoff !== "object" || backoff.type !== BACKOFF_TYPE) return true;
  return retryDelay(policy, failures, err) >= 0;
}

/**
 * A BullMQ worker as every lxtag process runs one: the payload parsed by its schema, bad payloads unrecoverable,
 * every failed attempt logged, the final failure recorded once. Close it with `worker.close()` on shutdown.
 */
export function runWorker<T, R>(options: RunWorkerOptions<T, R>): Worker {
  const { queue, schema, log } = options;
  const policy = retryPolicy(options.config);
  const worker = new Worker(
    queue,
    async (job: Job) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`bad ${queue} payload: ${parsed.error.message}`);
      return options.process(parsed.data, { job, log: log.child({ jobId: job.id, queue }) });
    },
    workerOptions(options.config, options.concurrency),
  );
  options.metrics?.watch(worker);
  worker.on("failed", (job, err) => {
    const final = !job || isFinalFailure(job, err);
    // a retried attempt is routine during an outage; only the last one is an error
    log[final ? "error" : "warn"](
      { jobId: job?.id, queue, attempt: job?.attemptsMade, err: err.message },
      final ? "job failed" : "job failed; retrying",
    );
    if (!job || !final || !options.onFinalFailure) return;
    const parsed = schema.safeParse(job.data);
    if (!parsed.success) return; // nothing to record it on
    const record = options.onFinalFailure;
    withTransientRetry(
      () => record(parsed.data, err, job),
      policy,
      (e, delayMs) =>
        log.warn({ jobId: job.id, err: e.message, delayMs }, "recording the failure failed; retrying"),
    ).catch((e: Error) => log.error({ jobId: job.id, err: e.message }, "recording the failure failed"));
  });
  worker.on("error", (err) => log.error({ err, queue }, "worker error"));
  return worker;
}
