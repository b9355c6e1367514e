// S3 goes away for a few seconds while a post is being predicted: the job is retried and the post ends with
// predictions from its real RoI tensors, not degraded to its caption.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HashtagModel } from "@lxtag/inference";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { scratchDatabase, TcpProxy } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictHarness } from "./testing/fixtures.js";
import { publishRandomModel, registerModel } from "./testing/models.js";

const env = parseEnv(serviceEnvSchema, process.env);

describe("predict worker during an S3 outage", () => {
  const run = randomUUID().slice(0, 8);
  const detector = `test-detector-${run}`;
  let work: string;
  let reference: HashtagModel;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let proxy: TcpProxy;
  let h: PredictHarness;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-pw-models-"));
    const model = await publishRandomModel(env, join(work, "m"), { id: `pw-o-${run}`, seed: 9, detector });
    reference = await HashtagModel.load(model.dir);
    scratch = await scratchDatabase(env.DATABASE_URL);
    proxy = await TcpProxy.start(env.LXTAG_S3_ENDPOINT);
    h = new PredictHarness(scratch.url, {}, proxy.url);
    await registerModel(h.repos, model.manifest);
    await h.repos.models.activate(model.manifest.id);
    await h.start();
    await h.handle.serving; // the bundle came through the proxy before the cut
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.close();
    await reference?.dispose();
    await scratch?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it("retries through a 2.5 s cut and writes the ranking of the post's real RoI tensors, unflagged", async () => {
    const text = "a red sunset over the ocean";
    const post = await h.post(text, { detector });
    const failures: string[] = [];
    h.handle.worker!.on("failed", (_job, err) => failures.push(err.message));
    let outage: Promise<void> | undefined;
    h.handle.worker!.on("active", () => {
      outage ??= proxy.outage(2500); // cut as the job starts, before its RoI read
    });
    await h.enqueue(post.id);
    const job = await h.settled(post.id, 60_000);
    await outage;
    expect(await job.getState(), job.failedReason).toBe("completed");
    expect(failures.length).toBeGreaterThanOrEqual(1); // it did fail while S3 was away
    expect(await h.row(post.id)).toEqual({ state: "done", flags: [], error: null });
    const want = (
      await reference.rank([{ text, features: post.roi!.features, boxes: post.roi!.boxes }], 5)
    )[0]!;
    const rows = await h.predictions(post.id);
    expect(rows.map((r) => r.hashtag)).toEqual(want.map((w) => w.hashtag));
    for (const [i, r] of rows.entries()) expect(r.score).toBeCloseTo(want[i]!.score, 5);
    // and not what the caption alone would have given
    const captionOnly = (await reference.rank([{ text }], 5))[0]!;
    expect(Math.max(...rows.map((r, i) => Math.abs(r.score - captionOnly[i]!.score)))).toBeGreaterThan(1e-4);
  });
});
