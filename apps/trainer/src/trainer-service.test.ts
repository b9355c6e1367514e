// The trainer service on real Redis, Postgres (a scratch database), S3 and the engine: its schedule in BullMQ, and a
// run asked for through the queue (as POST /v1/training-runs does) carried out on the row that asked for it.
import { jobIds, QUEUES, type TrainingJob } from "@lxtag/contracts";
import { createLogger, createQueue } from "@lxtag/runtime";
import { waitForJob } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedLabeledPosts } from "./testing/labeled-posts.js";
import { type TrainerHarness, trainerHarness } from "./testing/trainer-harness.js";
import { startTrainerService, TRAINING_SCHEDULER_ID } from "./trainer-service.js";

const log = createLogger("trainer-test", "silent");

describe("trainer service", () => {
  let h: TrainerHarness;
  const queue = () => {
    const { LXTAG_REDIS_URL, LXTAG_QUEUE_PREFIX } = h.services.config;
    return createQueue<TrainingJob>(QUEUES.training, LXTAG_REDIS_URL, LXTAG_QUEUE_PREFIX);
  };

  beforeAll(async () => {
    h = await trainerHarness();
    await seedLabeledPosts(h.repos, h.services.store, {
      detectorId: h.services.config.LXTAG_DETECTOR_ID!,
      images: 40,
    });
  });
  afterAll(async () => {
    const q = queue();
    await q.obliterate({ force: true });
    await q.close();
    await h?.close();
  });

  it("keeps one job scheduler for LXTAG_TRAIN_SCHEDULE, replaced when it changes and removed when it is empty", async () => {
    const q = queue();
    const schedulers = async () => (await q.getJobSchedulers()).map((s) => [s.key, s.pattern]);
    for (const pattern of ["0 3 * * *", "30 2 * * 1"]) {
      const service = await startTrainerService(
        { ...h.services, config: { ...h.services.config, LXTAG_TRAIN_SCHEDULE: pattern } },
        log,
      );
      await service.close();
      expect(await schedulers()).toEqual([[TRAINING_SCHEDULER_ID, pattern]]);
    }
    await (await startTrainerService(h.services, log)).close();
    expect(await schedulers()).toEqual([]);
    await q.close();
  });

  it("carries out a queued run and records it on its own row", async () => {
    const run = await h.repos.trainingRuns.create({ requestedBy: "test" }, { state: "queued" });
    const service = await startTrainerService(h.services, log);
    const q = queue();
    await q.add("training", { runId: run.id, force: true }, { jobId: jobIds.training(run.id) });
    await expect
      .poll(async () => (await h.repos.trainingRuns.find(run.id))?.state, { timeout: 120_000, interval: 500 })
      .toBe("done");
    const row = await h.repos.trainingRuns.find(run.id);
    expect(row?.modelVersionId).toBeTruthy();
    expect((await h.repos.models.active())?.id).toBe(row?.modelVersionId); // the first model: nothing to beat
    // the run's row is written before the job's completion reaches Redis: wait for that too
    const job = await waitForJob(q, jobIds.training(run.id));
    expect(job.returnvalue).toMatchObject({ runId: run.id, state: "done", activated: true });
    await service.close();
    await q.close();
  }, 150_000);
});
