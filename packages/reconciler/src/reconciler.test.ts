// The reconciler on a scratch database and the running Redis, under a queue prefix of each test's own: work left
// without a live job (as an outage leaves it) is queued again, finished jobs of unfinished posts are acted on, and
// a second pass changes nothing.
import { randomUUID } from "node:crypto";
import {
  type FeatureJob,
  type IngestJob,
  jobIds,
  POSTS_PER_JOB,
  type PredictJob,
  postRangeOf,
  QUEUES,
  type RelabelJob,
} from "@lxtag/contracts";
import { createDb, type Db, type NewPost, type Repositories, repositories } from "@lxtag/db";
import { examplePost } from "@lxtag/db/testing";
import { createLogger, createQueue, parseEnv, redisConnection, serviceEnvSchema } from "@lxtag/runtime";
import { scratchDatabase } from "@lxtag/testkit";
import { type Queue, UnrecoverableError, Worker } from "bullmq";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ReconcileReport, Reconciler, type ReconcilerQueues, startReconciler } from "./index.js";

const env = parseEnv(serviceEnvSchema, process.env);
const log = createLogger("reconciler-test", "silent");

let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let db: Db;
let repos: Repositories;
let apiKeyId: string;
beforeAll(async () => {
  scratch = await scratchDatabase(env.DATABASE_URL);
  db = createDb(scratch.url, 4);
  repos = repositories(db);
  apiKeyId = (await repos.apiKeys.create("reconciler-test")).id;
});
afterAll(async () => {
  await db?.close();
  await scratch?.drop();
});

let prefix: string;
let queues: ReconcilerQueues;
beforeEach(() => {
  prefix = `reconciler-test-${randomUUID().slice(0, 8)}`;
  queues = {
    ingest: createQueue<IngestJob>(QUEUES.ingest, env.LXTAG_REDIS_URL, prefix),
    features: createQueue<FeatureJob>(QUEUES.features, env.LXTAG_REDIS_URL, prefix),
    predict: createQueue<PredictJob | RelabelJob>(QUEUES.predict, env.LXTAG_REDIS_URL, prefix),
  };
});
afterEach(async () => {
  for (const queue of Object.values(queues) as Queue[]) {
    await queue.obliterate({ force: true });
    await queue.close();
  }
  // batches of one test must not be seen by the next
  await db.pool.query("UPDATE batches SET state = 'done' WHERE state <> 'done'");
});

const reconciler = (detector?: string) =>
  new Reconciler({ repos, queues, log, servingDetector: async () => detector });

const newPost = (seq: number): NewPost => examplePost(seq, { imageKey: `img/${seq}.png` });

/** A processing batch with `n` pending posts (as ingest leaves it, minus the features jobs). */
/** A batch past ingest with posts at `seqs` (or `0..n-1`); their ids in that order. */
async function processingBatch(n: number | number[]): Promise<{ batchId: string; postIds: string[] }> {
  const batchId = randomUUID();
  await repos.batches.create(batchId, apiKeyId, { type: "json", key: "test" }, {});
  const seqs = typeof n === "number" ? Array.from({ length: n }, (_, i) => i) : n;
  const postIds: string[] = [];
  for (const seq of seqs) postIds.push(...(await repos.posts.insertMany(batchId, [newPost(seq)])));
  await repos.batches.markIngested(batchId, []);
  return { batchId, postIds };
}

const state = (queue: keyof ReconcilerQueues, jobId: string) => queues[queue].getJobState(jobId);
const postState = async (id: string) =>
  (await db.pool.query("SELECT state, error FROM posts WHERE id = $1", [id])).rows[0];

/** Runs one job of `queue` through a throwaway worker that fails it for good (an unrecoverable error). */
async function failForGood(queue: keyof ReconcilerQueues, jobId: string, data: object): Promise<void> {
  await queues[queue].add(queue, data as never, { jobId });
  const worker = new Worker(
    QUEUES[queue],
    async () => {
      throw new UnrecoverableError("S3 was down for an hour");
    },
    { connection: redisConnection(env.LXTAG_REDIS_URL), prefix },
  );
  while ((await state(queue, jobId)) !== "failed") await new Promise((r) => setTimeout(r, 20));
  await worker.close();
}

describe("Reconciler", () => {
  it("queues a batch left queued or ingesting without an ingest job, once", async () => {
    const queued = randomUUID();
    const ingesting = randomUUID();
    for (const id of [queued, ingesting])
      await repos.batches.create(id, apiKeyId, { type: "json", key: "t" }, {});
    await repos.batches.markIngesting(ingesting);
    const first = await reconciler().run();
    expect(first.requeued).toEqual({ ingest: 2, features: 0, predict: 0 });
    expect(await state("ingest", jobIds.ingest(queued))).toBe("waiting");
    expect(await state("ingest", jobIds.ingest(ingesting))).toBe("waiting");
    expect((await reconciler().run()).requeued.ingest).toBe(0); // their jobs are live now
    expect(await queues.ingest.count()).toBe(2);
  });

  it("gives every unfinished range of posts the job of its stage, once, a post sent back its own, and leaves live jobs alone", async () => {
    const { batchId, postIds } = await processingBatch([0, 1, 32, 64, 65, 66]);
    // seqs 0 and 1 wait for features (one range), 32 has its range's job live, 64 to 66 are past features
    const [, , , predicting, sentBack, sentBackPredicting] = postIds as string[] as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const range = (seq: number) => postRangeOf(batchId, seq);
    await queues.features.add("features", range(32), { jobId: jobIds.features(range(32)) });
    for (const id of [predicting, sentBack, sentBackPredicting])
      await repos.posts.markFeaturized(id, "a".repeat(64));
    await repos.posts.markRefeaturizing(sentBack);
    await repos.posts.markRefeaturizing(sentBackPredicting);
    await repos.posts.markFeaturized(sentBackPredicting, "a".repeat(64));

    const report = await reconciler("det:1").run();
    expect(report).toMatchObject({
      posts: 6,
      requeued: { ingest: 0, features: 2, predict: 2 },
      failuresRecorded: 0,
    });
    expect(await state("features", jobIds.features(range(0)))).toBe("waiting"); // for both its posts
    expect(await state("features", jobIds.features(range(32)))).toBe("waiting");
    expect(await state("predict", jobIds.predict(range(64)))).toBe("waiting");
    expect(await state("features", jobIds.refeaturize(sentBack, "det:1"))).toBe("waiting");
    expect(await state("predict", jobIds.repredict(sentBackPredicting, "det:1"))).toBe("waiting");
    expect((await queues.features.getJob(jobIds.features(range(0))))?.data).toEqual({
      batchId,
      fromSeq: 0,
      size: POSTS_PER_JOB,
    });
    expect((await queues.features.getJob(jobIds.refeaturize(sentBack, "det:1")))?.data).toEqual({
      batchId,
      postId: sentBack,
    });
    const again = await reconciler("det:1").run();
    expect(again.requeued).toEqual({ ingest: 0, features: 0, predict: 0 });
    expect(await queues.features.count()).toBe(3);
    expect(await queues.predict.count()).toBe(2);
  });

  it("adds a range's predict job only once none of its posts waits for features", async () => {
    const { batchId, postIds } = await processingBatch(2);
    await repos.posts.markFeaturized(postIds[0]!, "a".repeat(64)); // featurized; the other one not yet
    const range = postRangeOf(batchId, 0);
    expect((await reconciler().run()).requeued).toEqual({ ingest: 0, features: 1, predict: 0 });
    expect(await state("features", jobIds.features(range))).toBe("waiting");
    expect(await state("predict", jobIds.predict(range))).toBe("unknown");
    // the features job featurized the other post, and its add of the predict job was lost
    await repos.posts.markFeaturized(postIds[1]!, "b".repeat(64));
    expect((await reconciler().run()).requeued).toEqual({ ingest: 0, features: 0, predict: 1 });
    expect(await state("predict", jobIds.predict(range))).toBe("waiting");
  });

  it("leaves a re-featurized post for the model it waits for, and queues posts predicting without a model", async () => {
    const { batchId, postIds } = await processingBatch(2);
    const [sentBack] = postIds as [string, string];
    for (const id of postIds) await repos.posts.markFeaturized(id, "a".repeat(64));
    await repos.posts.markRefeaturizing(sentBack);
    const report = await reconciler(undefined).run();
    expect(report).toMatchObject({ waitingForModel: 1, requeued: { features: 0, predict: 1 } });
    // it waits in the queue
    expect(await state("predict", jobIds.predict(postRangeOf(batchId, 1)))).toBe("waiting");
  });

  it("records a final failure its worker could not record, for the range's posts still at its stage, and completes the batch", async () => {
    const { batchId, postIds } = await processingBatch(2);
    const [failing, done] = postIds as [string, string];
    await repos.posts.markFeaturized(failing, "a".repeat(64));
    await repos.posts.markFeaturized(done, "b".repeat(64));
    await db.pool.query(
      `INSERT INTO model_versions (id, architecture, bundle_prefix, detector_id, hashtags, metrics, manifest, state)
       VALUES ('m-rec', 'lxmert4hashtag', 'models/m/', 'd1', 2, '{}', '{}', 'retired') ON CONFLICT DO NOTHING`,
    );
    await repos.posts.savePredictions("m-rec", [
      { postId: done, ranked: [{ hashtag: "sunset", score: 0.5 }] },
    ]);
    const range = postRangeOf(batchId, 0);
    await failForGood("predict", jobIds.predict(range), range);

    const report = await reconciler().run();
    expect(report.failuresRecorded).toBe(1);
    expect(report.requeued).toEqual({ ingest: 0, features: 0, predict: 0 });
    expect(await postState(failing)).toEqual({
      state: "failed",
      error: "predict-failed: S3 was down for an hour",
    });
    expect((await postState(done)).state).toBe("done");
    expect((await repos.batches.find(batchId))?.state).toBe("done");
  });

  it("fails a range's posts still waiting for features when its job failed unrecorded; those featurized get their predict job", async () => {
    const { batchId, postIds } = await processingBatch(2);
    const [waiting, featurized] = postIds as [string, string];
    await repos.posts.markFeaturized(featurized, "a".repeat(64));
    const range = postRangeOf(batchId, 0);
    await failForGood("features", jobIds.features(range), range);

    const report = await reconciler().run();
    expect(report).toMatchObject({ failuresRecorded: 1, requeued: { ingest: 0, features: 0, predict: 1 } });
    expect(await postState(waiting)).toEqual({
      state: "failed",
      error: "features-failed: S3 was down for an hour",
    });
    expect((await postState(featurized)).state).toBe("predicting");
    expect(await state("predict", jobIds.predict(range))).toBe("waiting");
  });

  it("fails a batch whose ingest job failed unrecorded", async () => {
    const batchId = randomUUID();
    await repos.batches.create(batchId, apiKeyId, { type: "json", key: "t" }, {});
    await failForGood("ingest", jobIds.ingest(batchId), { batchId });
    expect((await reconciler().run()).failuresRecorded).toBe(1);
    expect(await repos.batches.find(batchId)).toMatchObject({
      state: "failed",
      error: "ingest-failed: S3 was down for an hour",
    });
  });

  it("queues again a range whose job completed although a post of it did not move on", async () => {
    const { batchId } = await processingBatch(1);
    const range = postRangeOf(batchId, 0);
    await queues.features.add("features", range, { jobId: jobIds.features(range) });
    const job = (await queues.features.getJob(jobIds.features(range)))!;
    // as if an outage lost the post's update but not the job's completion
    const token = "test-token";
    const w = new Worker(QUEUES.features, null, { connection: redisConnection(env.LXTAG_REDIS_URL), prefix });
    const active = (await w.getNextJob(token))!;
    expect(active.id).toBe(job.id);
    await active.moveToCompleted("skipped", token, false);
    await w.close();
    expect(await state("features", jobIds.features(range))).toBe("completed");

    expect((await reconciler().run()).requeued.features).toBe(1);
    expect(await state("features", jobIds.features(range))).toBe("waiting");
  });

  it("completes a processing batch whose posts all finished", async () => {
    const { batchId, postIds } = await processingBatch(1);
    await repos.posts.markFailed(postIds[0]!, "invalid-image: x");
    expect((await repos.batches.find(batchId))?.state).toBe("processing");
    await reconciler().run();
    expect((await repos.batches.find(batchId))?.state).toBe("done");
  });

  it("discards an upload that stopped long ago and fails its batch; a recent upload is left to finish", async () => {
    const stale = randomUUID();
    const recent = randomUUID();
    await repos.batches.createUploading(stale, apiKeyId);
    await repos.batches.createUploading(recent, apiKeyId);
    await db.pool.query("UPDATE batches SET created_at = now() - interval '2 hours' WHERE id = $1", [stale]);
    const discarded: string[] = [];
    const withUploads = new Reconciler({
      repos,
      queues,
      log,
      servingDetector: async () => undefined,
      uploads: { abandonedAfterMs: 3_600_000, discard: async (b) => void discarded.push(b.id) },
    });
    expect((await withUploads.run()).abandonedUploads).toBe(1);
    expect(discarded).toEqual([stale]);
    const failed = await repos.batches.find(stale);
    expect(failed?.state).toBe("failed");
    expect(failed?.error).toMatch(/^upload-abandoned: the upload did not finish within 60 min/);
    expect((await repos.batches.find(recent))?.state).toBe("uploading");
    // the recent upload finishes: its batch is queued, with its parts and options
    expect(await repos.batches.finishUpload(recent, { type: "zip", keys: ["k"] }, {})).toBe(true);
    expect((await repos.batches.find(recent))?.state).toBe("queued");
    // a finish that comes after the reconciler gave the upload up is refused
    expect(await repos.batches.finishUpload(stale, { type: "zip", keys: ["k"] }, {})).toBe(false);
    expect((await withUploads.run()).abandonedUploads).toBe(0);
    expect(discarded).toEqual([stale]);
  });

  it("keeps an abandoned upload's batch uploading when its parts cannot be deleted, for the next pass", async () => {
    const stale = randomUUID();
    await repos.batches.createUploading(stale, apiKeyId);
    await db.pool.query("UPDATE batches SET created_at = now() - interval '2 hours' WHERE id = $1", [stale]);
    const failing = new Reconciler({
      repos,
      queues,
      log,
      servingDetector: async () => undefined,
      uploads: {
        abandonedAfterMs: 3_600_000,
        discard: async () => {
          throw new Error("S3 unreachable");
        },
      },
    });
    await expect(failing.run()).rejects.toThrow("S3 unreachable");
    expect((await repos.batches.find(stale))?.state).toBe("uploading");
  });

  it("runs one pass per interval however many processes host it", async () => {
    const passes: ReconcileReport[] = [];
    const deps = { repos, queues, log, servingDetector: async () => undefined };
    const loops = [1, 2, 3].map(() =>
      startReconciler(deps, { intervalMs: 5_000, onPass: (report) => passes.push(report) }),
    );
    await new Promise((r) => setTimeout(r, 1000));
    for (const loop of loops) await loop.stop();
    expect(passes).toHaveLength(1);
  });
});
