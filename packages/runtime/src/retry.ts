import { setTimeout as sleep } from "node:timers/promises";
import type { BackoffStrategy } from "bullmq";
import type { ServiceEnv } from "./config.js";
import { isTransientError } from "./transient.js";

/**
 * How lxtag retries: an infrastructure error (`isTransientError`: Redis, Postgres or S3 down, timing out, 5xx) is
 * retried with exponential backoff capped at `maxDelayMs` for about `budgetMs`, long enough to outlast a restart or
 * a failover; any other error, `attempts` times in all; an `UnrecoverableError` (input that can never work) not
 * at all.
 */
export interface RetryPolicy {
  /** How long transient errors are retried, in nominal backoff time. @defaultValue 300000 (5 min) */
  budgetMs: number;
  /** The first backoff; each next one doubles. @defaultValue 1000 */
  baseDelayMs: number;
  /** The longest backoff. @defaultValue 30000 */
  maxDelayMs: number;
  /** Attempts in all for an error that is neither transient nor unrecoverable (a bug, an odd object). @defaultValue 3 */
  attempts: number;
}

export function retryPolicy(env: ServiceEnv): RetryPolicy {
  return {
    budgetMs: env.LXTAG_RETRY_BUDGET_MS,
    baseDelayMs: env.LXTAG_RETRY_BASE_DELAY_MS,
    maxDelayMs: env.LXTAG_RETRY_MAX_DELAY_MS,
    attempts: env.LXTAG_RETRY_ATTEMPTS,
  };
}

/** The nominal backoff after the `failures`-th failure (1-based): base * 2^(failures-1), capped. */
export function nominalDelay(policy: RetryPolicy, failures: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(failures - 1, 30));
}

/** Nominal time spent waiting before the `failures`-th failure: the backoffs after the failures before it. */
function spentBefore(policy: RetryPolicy, failures: number): number {
  let spent = 0;
  for (let i = 1; i < failures && spent < policy.budgetMs; i++) spent += nominalDelay(policy, i);
  return spent;
}

/** 80-100% of the nominal delay: jobs failed by one outage do not all come back in the same instant. */
const jittered = (ms: number) => Math.round(ms * (0.8 + 0.2 * Math.random()));

/**
 * The delay before retrying after the `failures`-th failure with `err`, or -1 for no retry: transient errors
 * until the budget is spent, others until `attempts` attempts were made.
 */
export function retryDelay(policy: RetryPolicy, failures: number, err: unknown): number {
  const retry = isTransientError(err)
    ? spentBefore(policy, failures) < policy.budgetMs
    : failures < policy.attempts;
  return retry ? jittered(nominalDelay(policy, failures)) : -1;
}

/** The backoff type of lxtag's jobs (`DEFAULT_JOB_OPTIONS`); workers resolve it with `backoffStrategy`. */
export const BACKOFF_TYPE = "lxtag";

/** `retryDelay` as BullMQ's worker setting `backoffStrategy` (BullMQ passes the attempts made, this one included). */
export function backoffStrategy(policy: RetryPolicy): BackoffStrategy {
  return (attemptsMade, _type, err) => retryDelay(policy, attemptsMade, err);
}

/**
 * Runs `fn`, retrying transient errors with the policy's backoff for its budget (other errors are thrown at once):
 * for writes that must not be lost to an outage, such as recording a job's final failure. `onRetry` hears of each
 * retry (logging).
 */
export async function withTransientRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (err: Error, delayMs: number) => void,
): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await fn();
    } catch (err) {
      const delay = isTransientError(err) ? retryDelay(policy, failures, err) : -1;
      if (delay < 0) throw err;
      onRetry?.(err as Error, delay);
      await sleep(delay);
    }
  }
}
