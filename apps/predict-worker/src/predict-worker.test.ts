// The predict worker's own code path (startPredictWorker on a real BullMQ queue, a scratch Postgres database as
// its model registry, real ONNX models from the engine): which model serves, and what happens without one.
import { randomUUID } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobIds, type ModelManifest } from "@lxtag/contracts";
import { applicationName, createDb, repositories } from "@lxtag/db";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { ObjectStore, publishModelBundle } from "@lxtag/storage";
import { scratchDatabase, TcpProxy } from "@lxtag/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ONE_POST, PredictHarness } from "./testing/fixtures.js";
import { publishModelPair, registerModel } from "./testing/models.js";

const env = parseEnv(serviceEnvSchema, process.env);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("predict worker", () => {
  const run = randomUUID().slice(0, 8);
  const detector = `test-detector-${run}`;
  let work: string;
  let a: ModelManifest;
  let b: ModelManifest;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let h: PredictHarness | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-pw-models-"));
    [a, b] = await publishModelPair(env, work, { idPrefix: "pw-", run, detector });
  });
  beforeEach(async () => {
    scratch = await scratchDatabase(env.DATABASE_URL);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await scratch.drop();
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** A bundle that loads but cannot rank: its manifest names one hashtag more than its graph scores. */
  const publishBroken = async (): Promise<ModelManifest> => {
    const brokenDir = join(work, "broken");
    await cp(join(work, "a"), brokenDir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(brokenDir, "manifest.json"), "utf8"));
    await writeFile(
      join(brokenDir, "manifest.json"),
      JSON.stringify({ ...manifest, id: `pw-broken-${run}`, hashtags: [...manifest.hashtags, "extra"] }),
    );
    const store = new ObjectStore(storeOptions(env));
    return publishModelBundle(store, brokenDir).finally(() => store.destroy());
  };

  it("without an active model, takes no jobs (they wait, unfailed) and serves once one is activated", async () => {
    h = await new PredictHarness(scratch.url).start();
    const post = await h.post("a red sunset over the ocean", { detector });
    await h.enqueue(post.id);
    await sleep(1000); // ten registry checks
    expect(h.handle.worker).toBeUndefined();
    expect(await h.predict.getJobState(jobIds.predict(h.rangeOf(post.id)))).toBe("waiting");
    expect(await h.row(post.id)).toEqual({ state: "predicting", flags: [], error: null });
    const summary = async () => h!.repos.batches.summary((await h!.repos.batches.find(h!.batchId))!);
    expect((await summary()).warnings).toEqual([
      "waiting for a first model: 1 post waits for prediction until one is activated",
    ]);

    await registerModel(h.repos, a);
    await h.repos.models.activate(a.id);
    expect(await h.handle.serving).toBe(a.id);
    const job = await h.settled(post.id);
    expect(job.returnvalue).toEqual(ONE_POST.done);
    expect(await h.row(post.id)).toEqual({ state: "done", flags: [], error: null });
    const rows = await h.predictions(post.id);
    expect(rows.map((r) => [r.model, r.rank])).toEqual([1, 2, 3, 4, 5].map((rank) => [a.id, rank]));
    expect(a.hashtags).toEqual(expect.arrayContaining(rows.map((r) => r.hashtag)));
    expect((await summary()).warnings).toEqual([]);
  });

  it("swaps in a newly activated model for the next micro-batch while the batch in flight finishes on the old", async () => {
    h = new PredictHarness(scratch.url);
    await registerModel(h.repos, a);
    await registerModel(h.repos, b);
    await h.repos.models.activate(a.id);
    await h.start();
    expect(await h.handle.serving).toBe(a.id);
    const first = await h.post("my dog at the beach", { detector });
    const second = await h.post("coffee and croissants in paris", { detector });

    // hold the first batch just before its write: a row lock on its post blocks the predictions' foreign key
    const lockDb = createDb(scratch.url, 1);
    const lock = await lockDb.pool.connect();
    await lock.query("BEGIN");
    await lock.query("SELECT 1 FROM posts WHERE id = $1 FOR UPDATE", [first.id]);
    const lockPid = (await lock.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    let locked = true;
    const unlock = async () => {
      if (!locked) return;
      locked = false;
      await lock.query("COMMIT");
      lock.release();
      await lockDb.close();
    };
    // a failure before the commit must not leave the worker's write waiting (closing the harness waits for it)
    try {
      await h.enqueue(first.id);
      // the batch's write waits on this lock (and not some other session on the server). This session is inside its
      // transaction, whose view of pg_stat_activity holds still: a connection the worker opens later would never show
      // without the snapshot cleared first
      const blocked = async () => {
        await lock.query("SELECT pg_stat_clear_snapshot()");
        return (
          await lock.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            [lockPid],
          )
        ).rows[0].n;
      };
      await expect.poll(blocked, { timeout: 20_000 }).toBeGreaterThan(0);

      await h.repos.models.activate(b.id);
      await expect.poll(() => h!.handle.loader.model?.id, { timeout: 20_000 }).toBe(b.id);
      expect(h.handle.loader.loadedIds.sort()).toEqual([a.id, b.id].sort()); // the old one is busy, still loaded
      await h.enqueue(second.id);
      expect((await h.settled(second.id)).returnvalue).toEqual(ONE_POST.done);
      expect(new Set((await h.predictions(second.id)).map((r) => r.model))).toEqual(new Set([b.id]));

      await unlock();
      expect((await h.settled(first.id)).returnvalue).toEqual(ONE_POST.done);
      expect(new Set((await h.predictions(first.id)).map((r) => r.model))).toEqual(new Set([a.id]));
      await expect.poll(() => h!.handle.loader.loadedIds, { timeout: 20_000 }).toEqual([b.id]); // released after its last batch
    } finally {
      await unlock();
    }
  });

  it("keeps serving its model when a newly activated one fails its warm-up run, and warms the one it serves", async () => {
    const broken = await publishBroken();
    h = new PredictHarness(scratch.url);
    await registerModel(h.repos, a);
    await registerModel(h.repos, broken);
    await h.repos.models.activate(a.id);
    await h.start();
    expect(await h.handle.serving).toBe(a.id);
    // warmed up before it served: its first batch finds the tensors of the warm-up runs to fill
    expect(h.handle.loader.model!.newBatch(8).recycled).toBe(true);

    await h.repos.models.activate(broken.id);
    await expect.poll(() => h!.handle.loader.refused, { timeout: 20_000 }).toBe(broken.id);
    // recorded in the registry, by the worker's own connection
    const refused = (await h.repos.models.find(broken.id))!;
    expect(refused.refusedBy).toBe(applicationName("test predict-worker"));
    expect(refused.refusedReason).toMatch(/hashtag/);
    expect(refused.refusedAt).toBeInstanceOf(Date);
    expect(h.handle.loader.loadedIds).toEqual([a.id]);
    expect(h.handle.loader.model?.id).toBe(a.id);
    const post = await h.post("a red sunset over the ocean", { detector });
    await h.enqueue(post.id);
    expect((await h.settled(post.id)).returnvalue).toEqual(ONE_POST.done);
    expect(new Set((await h.predictions(post.id)).map((r) => r.model))).toEqual(new Set([a.id]));
    const warmUps = vi.spyOn(h.handle.predictor, "warmUp");
    await sleep(300); // a few registry checks: a refusal in force is not retried
    expect(warmUps).not.toHaveBeenCalled();
    expect(h.handle.loader.refused).toBe(broken.id);
    // a forced activation clears the refusal: the worker tries the version again, once, and refuses it again
    await h.repos.models.activate(broken.id, { force: true });
    await expect.poll(() => warmUps.mock.calls.length, { timeout: 20_000 }).toBe(1);
    await expect.poll(async () => (await h!.repos.models.find(broken.id))!.refusedAt).toBeInstanceOf(Date);
    await sleep(300);
    expect(warmUps).toHaveBeenCalledTimes(1);
    // forced again, and another worker refused it again before this one looked: a later refusal than the one this
    // worker knows, so it tries once more
    await h.db.pool.query(
      `UPDATE model_versions SET refused_at = refused_at + interval '1 second', refused_by = 'another worker',
         refused_reason = 'out of memory' WHERE id = $1`,
      [broken.id],
    );
    await expect.poll(() => warmUps.mock.calls.length, { timeout: 20_000 }).toBe(2);
    await sleep(300);
    expect(warmUps).toHaveBeenCalledTimes(2);
    expect((await h.repos.models.find(broken.id))!.refusedBy).toBe("another worker"); // the first refusal stays
    expect(h.handle.loader.model?.id).toBe(a.id);
    await registerModel(h.repos, b);
    await h.repos.models.activate(b.id); // another version: it is tried, and serves
    await expect.poll(() => h!.handle.loader.model?.id, { timeout: 20_000 }).toBe(b.id);
    expect(h.handle.loader.refused).toBeUndefined();
  });

  it.each([
    { meanwhile: "the version still should serve", replaced: false },
    { meanwhile: "another version was activated", replaced: true },
  ])(
    "records a refusal it could not record while Postgres was away once Postgres is back ($meanwhile)",
    async ({ replaced }) => {
      const broken = await publishBroken();
      // the worker (and the harness) reach Postgres through a proxy the test cuts; the test's checks go straight
      const proxy = await TcpProxy.start(new URL(scratch.url).host);
      const proxied = new URL(scratch.url);
      proxied.host = `127.0.0.1:${proxy.port}`;
      const direct = createDb(scratch.url, { service: "test registry reader", maxConnections: 1 });
      const refusedAt = async () =>
        (await direct.pool.query("SELECT refused_at FROM model_versions WHERE id = $1", [broken.id])).rows[0]
          ?.refused_at as Date | null | undefined;
      try {
        h = new PredictHarness(proxied.toString());
        await registerModel(h.repos, a);
        await registerModel(h.repos, broken);
        await registerModel(h.repos, b);
        await h.repos.models.activate(a.id);
        await h.start();
        expect(await h.handle.serving).toBe(a.id);
        const { predictor } = h.handle;
        const warmUp = predictor.warmUp.bind(predictor);
        const warmUps = vi.spyOn(predictor, "warmUp").mockImplementationOnce(async (model) => {
          await proxy.cut(); // Postgres goes away while the broken version warms up
          return warmUp(model);
        });
        const refusals = vi.spyOn(h.repos.models, "refuse");
        await h.repos.models.activate(broken.id);
        await expect.poll(() => refusals.mock.settledResults[0]?.type, { timeout: 20_000 }).toBe("rejected");
        expect(h.handle.loader.refused).toBe(broken.id);
        expect(await refusedAt()).toBeNull();
        await sleep(300); // registry checks fail meanwhile; the worker keeps serving its model
        expect(h.handle.loader.model?.id).toBe(a.id);
        // an operator activates another version while the worker cannot reach Postgres
        if (replaced) await repositories(direct).models.activate(b.id);
        const serves = replaced ? b.id : a.id;

        await proxy.restore();
        await expect.poll(refusedAt, { timeout: 20_000 }).toBeInstanceOf(Date);
        const row = (await h.repos.models.find(broken.id))!;
        expect(row.refusedBy).toBe(applicationName("test predict-worker"));
        expect(row.refusedReason).toMatch(/hashtag/);
        const calls = refusals.mock.calls.length;
        await sleep(300); // recorded once: later checks leave it alone
        expect(refusals).toHaveBeenCalledTimes(calls);
        // served once loaded and warmed up, which on a busy machine may take longer than the sleep above
        await expect.poll(() => h!.handle.loader.model?.id, { timeout: 20_000 }).toBe(serves);
        // the broken version was not warmed up again (the one activated meanwhile was, once)
        expect(warmUps.mock.calls.map(([model]) => model.id)).toEqual([
          broken.id,
          ...(replaced ? [b.id] : []),
        ]);
        expect(h.handle.loader.refused).toBe(replaced ? undefined : broken.id);
      } finally {
        await proxy.restore();
        await direct.close();
        await h?.close();
        h = undefined;
        await proxy.close();
      }
    },
  );

  it("serves the pinned version (LXTAG_MODEL_ID) even while another is active", async () => {
    h = new PredictHarness(scratch.url, { LXTAG_MODEL_ID: a.id });
    await registerModel(h.repos, a);
    await registerModel(h.repos, b);
    await h.repos.models.activate(b.id);
    await h.start();
    expect(await h.handle.serving).toBe(a.id);
    const post = await h.post("a red sunset over the ocean", { detector });
    await h.enqueue(post.id);
    expect((await h.settled(post.id)).returnvalue).toEqual(ONE_POST.done);
    await sleep(300); // a few registry checks: the active version does not displace the pinned one
    expect(h.handle.loader.model?.id).toBe(a.id);
    expect(new Set((await h.predictions(post.id)).map((r) => r.model))).toEqual(new Set([a.id]));
  });

  it("waits for a pinned version that is not registered yet, then serves it", async () => {
    h = await new PredictHarness(scratch.url, { LXTAG_MODEL_ID: b.id }).start();
    await registerModel(h.repos, a);
    await h.repos.models.activate(a.id);
    const post = await h.post("my dog", { detector });
    await h.enqueue(post.id);
    await sleep(500);
    expect(h.handle.worker).toBeUndefined();
    expect(await h.predict.getJobState(jobIds.predict(h.rangeOf(post.id)))).toBe("waiting");
    await registerModel(h.repos, b);
    expect(await h.handle.serving).toBe(b.id);
    expect((await h.settled(post.id)).returnvalue).toEqual(ONE_POST.done);
    expect(new Set((await h.predictions(post.id)).map((r) => r.model))).toEqual(new Set([b.id]));
  });
});
