import { QUEUES, type TrainingJob, trainingJobSchema } from "@lxtag/contracts";
import { createQueue, type Logger, runWorker } from "@lxtag/runtime";
import { UnrecoverableError, type Worker } from "bullmq";
import type { TrainerServices } from "./cli/services.js";
import { TrainingRunInProgressError } from "./run/lock.js";
import { runTraining } from "./run/training-run.js";

/** The schedule's id in BullMQ: one per queue prefix, replaced (not added to) when the pattern changes. */
export const TRAINING_SCHEDULER_ID = "retrain";

export interface TrainerService {
  worker: Worker;
  close(): Promise<void>;
}

/**
 * Takes training runs from the `training` queue, one at a time: runs the API asked for (a `queued` row named by the
 * job) and, when LXTAG_TRAIN_SCHEDULE is set, runs on that schedule (a BullMQ job scheduler; setting the pattern
 * empty removes it). A run that fails is recorded on its row by `runTraining` and is not retried; a run refused
 * because another holds the lock is retried with the queue's backoff.
 */
export async function startTrainerService(services: TrainerServices, log: Logger): Promise<TrainerService> {
  const { config } = services;
  const queue = createQueue<TrainingJob>(QUEUES.training, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
  if (config.LXTAG_TRAIN_SCHEDULE) {
    await queue.upsertJobScheduler(
      TRAINING_SCHEDULER_ID,
      { pattern: config.LXTAG_TRAIN_SCHEDULE },
      { name: "training", data: { force: false } },
    );
    log.info({ pattern: config.LXTAG_TRAIN_SCHEDULE }, "training on a schedule");
  } else await queue.removeJobScheduler(TRAINING_SCHEDULER_ID);

  const worker = runWorker({
    queue: QUEUES.training,
    schema: trainingJobSchema,
    config,
    concurrency: 1,
    log,
    process: async (job, { log: jobLog }) => {
      try {
        const result = await runTraining(services, {
          runId: job.runId,
          force: job.force,
          onLog: (line) => jobLog.info(line),
        });
        return result.state === "skipped"
          ? { runId: result.runId, state: result.state, reason: result.reason }
          : {
              runId: result.runId,
              state: result.state,
              candidate: result.candidateId,
              activated: result.activated,
            };
      } catch (err) {
        if (err instanceof TrainingRunInProgressError) throw err; // another run holds the lock: try again later
        // recorded on its row with the log tail (or a bad request that no retry mends)
        throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      }
    },
    // a queued run that never got the lock says so on its row
    onFinalFailure: async (job, err) => {
      if (!job.runId || err instanceof UnrecoverableError) return;
      const run = await services.repos.trainingRuns.find(job.runId);
      if (run?.state === "queued")
        await services.repos.trainingRuns.finish(job.runId, "failed", {
          error: `not started: ${err.message}`,
        });
    },
  });
  return {
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
