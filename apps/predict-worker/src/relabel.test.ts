// Relabel jobs (several posts each, from POST /v1/batches/:id/relabel) through the worker's real code path: the
// active model re-predicts finished posts from their RoI objects, earlier predictions stay, the detector never runs.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobIds, type ModelManifest, type RelabelJob } from "@lxtag/contracts";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { scratchDatabase, waitForJob } from "@lxtag/testkit";
import type { Queue } from "bullmq";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ONE_POST, PredictHarness } from "./testing/fixtures.js";
import { publishModelPair, registerModel } from "./testing/models.js";

const env = parseEnv(serviceEnvSchema, process.env);

describe("relabel jobs", () => {
  const run = randomUUID().slice(0, 8);
  const detector = `test-detector-${run}`;
  let work: string;
  let a: ModelManifest;
  let b: ModelManifest;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let h: PredictHarness | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-pw-relabel-"));
    [a, b] = await publishModelPair(env, work, { idPrefix: "pw-r", run, detector });
    scratch = await scratchDatabase(env.DATABASE_URL);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await scratch?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it("re-predicts finished posts with the active model from their RoI objects, kept for the next relabel", async () => {
    h = new PredictHarness(scratch.url);
    await registerModel(h.repos, a);
    await registerModel(h.repos, b);
    await h.repos.models.activate(a.id);
    await h.start();
    expect(await h.handle.serving).toBe(a.id);
    const withImage = await h.post("a red sunset over the ocean", { detector });
    const captionOnly = await h.post("coffee and croissants in paris");
    const gone = await h.post("my dog at the beach", { detector, gone: true }, ["refeaturized"]);
    const ids = [withImage.id, captionOnly.id, gone.id];
    // the post sent back once has a predict job of its own
    await h.enqueue(withImage.id, captionOnly.id);
    const repredict = jobIds.repredict(gone.id, detector);
    await h.predict.add("predict", { batchId: h.batchId, postId: gone.id }, { jobId: repredict });
    for (const id of [withImage.id, captionOnly.id])
      expect((await h.settled(id)).returnvalue).toEqual(ONE_POST.done);
    expect((await waitForJob(h.predict, repredict)).returnvalue).toBe("done");
    const before = await Promise.all(ids.map((id) => h!.predictions(id)));

    await h.repos.models.activate(b.id);
    await expect.poll(() => h!.handle.loader.model?.id, { timeout: 20_000 }).toBe(b.id);
    const reads = h.handle.cache.stats.misses;
    const relabel = h.predict as unknown as Queue<RelabelJob>;
    const job = await relabel.add(
      "relabel",
      { batchId: h.batchId, modelVersion: b.id, postIds: ids },
      { jobId: jobIds.relabel(h.batchId, b.id, "r1", 0) },
    );
    expect((await waitForJob(h.predict, job.id!)).returnvalue).toEqual({
      done: 3,
      refeaturized: 0,
      skipped: 0,
    });

    for (const [i, id] of ids.entries()) {
      const rows = await h.predictions(id);
      // a's predictions stay, b's are added
      expect(rows.filter((r) => r.model === a.id)).toEqual(before[i]);
      expect(rows.filter((r) => r.model === b.id).map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
      expect((await h.row(id)).state).toBe("done");
    }
    // the post whose object is gone stays caption-only, flagged; nothing goes back to the detector
    expect((await h.row(gone.id)).flags.sort()).toEqual(["caption-only", "refeaturized", "roi-missing"]);
    expect(await h.features.count()).toBe(0);
    // the first prediction read the object once and did not keep it; the relabel read it again (and the missing
    // one is asked for again)
    expect(h.handle.cache.stats.misses).toBe(reads + 2);
    const [result] = (await h.repos.results.page(h.batchId, { limit: 1 })).posts;
    expect(result).toMatchObject({ id: withImage.id, modelVersion: b.id, previousModelVersion: a.id });

    // the relabel kept what it read: the next relabel finds it in the worker's cache (only the missing one is asked
    // for again)
    await h.repos.models.activate(a.id);
    await expect.poll(() => h!.handle.loader.model?.id, { timeout: 20_000 }).toBe(a.id);
    const again = await relabel.add(
      "relabel",
      { batchId: h.batchId, modelVersion: a.id, postIds: ids },
      { jobId: jobIds.relabel(h.batchId, a.id, "r1", 0) },
    );
    expect((await waitForJob(h.predict, again.id!)).returnvalue).toMatchObject({ done: 3 });
    expect(h.handle.cache.stats.misses).toBe(reads + 3);
  });

  it("skips a post that failed since the relabel was asked for, and writes nothing for it", async () => {
    h = new PredictHarness(scratch.url, { LXTAG_FEATURE_CACHE_MB: "0" });
    await registerModel(h.repos, a);
    await h.repos.models.activate(a.id);
    await h.start();
    const waiting = await h.post("not predicted yet", { detector });
    await h.repos.posts.markFailed(waiting.id, "invalid-post: test");
    const relabel = h.predict as unknown as Queue<RelabelJob>;
    const job = await relabel.add(
      "relabel",
      { batchId: h.batchId, modelVersion: a.id, postIds: [waiting.id] },
      { jobId: jobIds.relabel(h.batchId, a.id, "r2", 0) },
    );
    expect((await waitForJob(h.predict, job.id!)).returnvalue).toEqual({
      done: 0,
      refeaturized: 0,
      skipped: 1,
    });
    expect(await h.predictions(waiting.id)).toEqual([]);
    expect((await h.row(waiting.id)).state).toBe("failed");
  });
});
