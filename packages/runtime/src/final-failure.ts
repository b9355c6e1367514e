import { type Job, UnrecoverableError, type Worker } from "bullmq";
import type { Logger } from "./logger.js";

/**
 * Logs every failed attempt and calls `onGiveUp` once a job will not be retried any more (attempts used up, or an
 * UnrecoverableError), so the app can record the failure where users see it.
 */
export function onFinalFailure(
  worker: Worker,
  log: Logger,
  onGiveUp: (job: Job, err: Error) => Promise<void>,
): void {
  worker.on("failed", (job, err) => {
    log.error(
      { jobId: job?.id, queue: worker.name, attempt: job?.attemptsMade, err: err.message },
      "job failed",
    );
    if (!job || (job.attemptsMade < (job.opts.attempts ?? 1) && !(err instanceof UnrecoverableError))) return;
    onGiveUp(job, err).catch((e: Error) =>
      log.error({ jobId: job.id, err: e.message }, "recording the failure failed"),
    );
  });
  worker.on("error", (err) => log.error({ err, queue: worker.name }, "worker error"));
}
