// Every architecture the engine trains serves: models trained by the engine (one epoch, tiny), each activated in
// turn on one running worker, rank the same posts through the real path (S3 features, ONNX, Postgres).
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobIds, type ModelManifest } from "@lxtag/contracts";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { ObjectStore, publishModelBundle } from "@lxtag/storage";
import { engineCommand, scratchDatabase, trainedModelBundle } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ONE_POST, PredictHarness } from "./testing/fixtures.js";
import { registerModel } from "./testing/models.js";

const env = parseEnv(serviceEnvSchema, process.env);
const MODELS = [
  { arch: "lxmert4hashtag" },
  { arch: "lxmert4hashtag", blend: true },
  { arch: "concat" },
  { arch: "text-only" },
  { arch: "linear" },
  { arch: "popularity" },
];

describe("every architecture's bundle", () => {
  const detector = `test-detector-${randomUUID().slice(0, 8)}`;
  let work: string;
  let manifests: ModelManifest[];
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let h: PredictHarness;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-pw-arch-"));
    const data = join(work, "data");
    await engineCommand(["synthetic", "--out", data, "--posts", "120"]);
    const store = new ObjectStore(storeOptions(env));
    try {
      manifests = [];
      for (const [i, m] of MODELS.entries()) {
        const bundle = await trainedModelBundle(join(work, String(i)), { data, detector, ...m });
        manifests.push(await publishModelBundle(store, bundle));
      }
    } finally {
      store.destroy();
    }
    scratch = await scratchDatabase(env.DATABASE_URL);
    h = await new PredictHarness(scratch.url).start();
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    await scratch?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it("is served in turn on the same posts, each ranking its own manifest's hashtags", async () => {
    expect(new Set(manifests.map((m) => m.id)).size).toBe(MODELS.length);
    expect(manifests.map((m) => m.architecture)).toEqual(MODELS.map((m) => m.arch));
    const posts = [
      await h.post("a red sunset over the ocean", { detector }),
      await h.post("my dog at the beach", { detector }),
      await h.post("coffee and croissants in paris"),
    ];
    for (const manifest of manifests) {
      await registerModel(h.repos, manifest);
      await h.repos.models.activate(manifest.id);
      await expect.poll(() => h.handle.loader.model?.id, { timeout: 20_000 }).toBe(manifest.id);
      // each model predicts the posts anew: waiting for prediction again, their jobs added again
      await h.db.pool.query("UPDATE posts SET state = 'predicting' WHERE batch_id = $1", [h.batchId]);
      for (const post of posts) await (await h.predict.getJob(jobIds.predict(h.rangeOf(post.id))))?.remove();
      await h.enqueue(...posts.map((p) => p.id));
      for (const post of posts) {
        const job = await h.settled(post.id);
        expect(job.returnvalue, `${manifest.architecture}: ${job.failedReason}`).toEqual(ONE_POST.done);
        const rows = (await h.predictions(post.id)).filter((r) => r.model === manifest.id);
        expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
        expect(manifest.hashtags).toEqual(expect.arrayContaining(rows.map((r) => r.hashtag)));
        for (const r of rows) expect(r.score).toBeGreaterThan(0);
        for (const r of rows) expect(r.score).toBeLessThan(1);
      }
    }
    // every model's ranking of every post is kept
    for (const post of posts)
      expect(new Set((await h.predictions(post.id)).map((r) => r.model)).size).toBe(MODELS.length);
  }, 120_000);
});
