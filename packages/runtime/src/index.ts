export {
  ConfigError,
  parseEnv,
  providerList,
  type ServiceEnv,
  serviceEnvSchema,
  storeOptions,
} from "./config.js";
export { READINESS_TIMEOUT_MS, type ReadinessCheck, workerReadiness } from "./health.js";
export { createLogger, type Logger } from "./logger.js";
export { WorkerMetrics } from "./metrics.js";
export { type Poller, startPolling } from "./poller.js";
export {
  addBulkChunked,
  createQueue,
  DEFAULT_JOB_OPTIONS,
  redisConnection,
  workerOptions,
} from "./queues.js";
export {
  BACKOFF_TYPE,
  backoffStrategy,
  nominalDelay,
  type RetryPolicy,
  retryDelay,
  retryPolicy,
  withTransientRetry,
} from "./retry.js";
export { ProcessError, type RunProcessOptions, runProcess } from "./run-process.js";
export { isFinalFailure, type RunWorkerOptions, retriesAfter, runWorker } from "./run-worker.js";
export { mapConcurrent, Semaphore } from "./semaphore.js";
export { onShutdown } from "./shutdown.js";
export { isTransientError } from "./transient.js";
