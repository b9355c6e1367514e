// What the predict worker writes for each kind of post, through its real code path, and how a post whose RoI
// cannot be read right now is kept from failing the rest of its micro-batch.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobIds, type ModelManifest, roiCacheKey } from "@lxtag/contracts";
import { HashtagModel, type ModelInput } from "@lxtag/inference";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { encodeRoi } from "@lxtag/storage";
import { S3Proxy, scratchDatabase, waitForJob } from "@lxtag/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type PredictHarness as Harness,
  ONE_POST,
  PredictHarness,
  type PredictionRow,
  randomRoi,
} from "./testing/fixtures.js";
import { publishRandomModel, registerModel } from "./testing/models.js";

const env = parseEnv(serviceEnvSchema, process.env);
const TOP_K = 5;

describe("predictor", () => {
  const run = randomUUID().slice(0, 8);
  const detector = `test-detector-${run}`;
  let work: string;
  let manifest: ModelManifest;
  let reference: HashtagModel; // the same bundle, loaded by the test
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let faulty: S3Proxy;
  let h: Harness | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-pw-models-"));
    const model = await publishRandomModel(env, join(work, "m"), { id: `pw-m-${run}`, seed: 5, detector });
    manifest = model.manifest;
    reference = await HashtagModel.load(model.dir);
    scratch = await scratchDatabase(env.DATABASE_URL);
    const setup = new PredictHarness(scratch.url);
    await registerModel(setup.repos, manifest);
    await setup.repos.models.activate(manifest.id);
    await setup.close();
    faulty = await S3Proxy.start(env.LXTAG_S3_ENDPOINT);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await faulty?.close();
    await reference?.dispose();
    await scratch?.drop();
    await rm(work, { recursive: true, force: true });
  });

  /** The reference model's top k for one input, as the worker should have written them. */
  async function expected(input: ModelInput): Promise<{ hashtag: string; score: number }[]> {
    return (await reference.rank([input], TOP_K))[0]!;
  }
  function expectRanking(rows: PredictionRow[], want: { hashtag: string; score: number }[]) {
    expect(rows.map((r) => [r.model, r.rank, r.hashtag])).toEqual(
      want.map((w, i) => [manifest.id, i + 1, w.hashtag]),
    );
    for (const [i, r] of rows.entries()) expect(r.score).toBeCloseTo(want[i]!.score, 5); // stored as real
  }

  it("writes the model's ranking of each post's caption and RoI tensors, and marks it done", async () => {
    h = await new PredictHarness(scratch.url).start();
    const withImage = await h.post("a red sunset over the ocean", { detector });
    const captionOnly = await h.post("coffee and croissants in paris");
    await h.enqueue(withImage.id, captionOnly.id);
    for (const p of [withImage, captionOnly])
      expect((await h.settled(p.id)).returnvalue).toEqual(ONE_POST.done);
    expectRanking(
      await h.predictions(withImage.id),
      await expected({
        text: "a red sunset over the ocean",
        features: withImage.roi!.features,
        boxes: withImage.roi!.boxes,
      }),
    );
    expectRanking(
      await h.predictions(captionOnly.id),
      await expected({ text: "coffee and croissants in paris" }),
    );
    expect(await h.row(withImage.id)).toEqual({ state: "done", flags: [], error: null });
    expect((await h.repos.batches.find(h.batchId))?.state).toBe("done");
  });

  it("sends a post featurized by another detector back to featurization once, then predicts it from the model's detector's RoIs", async () => {
    h = await new PredictHarness(scratch.url).start();
    const text = "a red sunset over the ocean";
    const post = await h.post(text, { detector: `older-detector-${run}` });
    await h.enqueue(post.id);
    const job = await h.settled(post.id);
    expect(job.returnvalue).toEqual(ONE_POST.refeaturized);
    expect(await h.row(post.id)).toEqual({ state: "featurizing", flags: ["refeaturized"], error: null });
    expect(await h.predictions(post.id)).toEqual([]); // never fed the other detector's features, nor caption-only
    const again = await h.features.getJob(jobIds.refeaturize(post.id, detector));
    expect(again?.data).toEqual({ batchId: h.batchId, postId: post.id });

    // what a feature worker serving the model's detector does with that job: the RoIs, then the re-run's predict job
    const roi = randomRoi(detector);
    await h.direct.put(roiCacheKey(detector, post.sha!), encodeRoi(roi));
    await h.repos.posts.markFeaturized(post.id, post.sha!);
    await h.predict.add(
      "predict",
      { batchId: h.batchId, postId: post.id },
      { jobId: jobIds.repredict(post.id, detector) },
    );
    const second = await waitForJob(h.predict, jobIds.repredict(post.id, detector));
    expect(second.returnvalue).toBe("done");
    expect(await h.row(post.id)).toEqual({ state: "done", flags: ["refeaturized"], error: null });
    expectRanking(
      await h.predictions(post.id),
      await expected({ text, features: roi.features, boxes: roi.boxes }),
    );
    expect((await h.features.getJobCounts("waiting")).waiting).toBe(1); // the one job (no feature worker here)
  });

  it("predicts from the caption, flagged roi-missing, a post still without the model's detector's RoIs after featurizing again", async () => {
    h = await new PredictHarness(scratch.url).start();
    const text = "my dog at the beach";
    const older = `older-detector-${run}`;
    const post = await h.post(text, { detector: older });
    await h.enqueue(post.id);
    expect((await h.settled(post.id)).returnvalue).toEqual(ONE_POST.refeaturized);

    // the feature workers still serve the older detector: its RoIs are cached, and the post comes back as it was
    await h.repos.posts.markFeaturized(post.id, post.sha!);
    await h.predict.add(
      "predict",
      { batchId: h.batchId, postId: post.id },
      { jobId: jobIds.repredict(post.id, older) },
    );
    const second = await waitForJob(h.predict, jobIds.repredict(post.id, older));
    expect(second.returnvalue).toBe("done");
    expect(second.attemptsMade).toBeLessThanOrEqual(1); // no retry: the object is not coming
    expect(await h.row(post.id)).toEqual({
      state: "done",
      flags: ["caption-only", "refeaturized", "roi-missing"],
      error: null,
    });
    expectRanking(await h.predictions(post.id), await expected({ text }));
    expect((await h.features.getJobCounts("waiting")).waiting).toBe(1); // sent back once only
  });

  it("adds the features job again for a post sent back by an attempt that failed before adding it", async () => {
    h = await new PredictHarness(scratch.url).start();
    const post = await h.post("coffee and croissants in paris", { detector, gone: true });
    expect(await h.repos.posts.markRefeaturizing(post.id)).toBe(true); // ... and then the attempt failed
    await h.enqueue(post.id);
    expect((await h.settled(post.id)).returnvalue).toEqual(ONE_POST.refeaturized);
    expect(await h.features.getJob(jobIds.refeaturize(post.id, detector))).toBeDefined();
    expect(await h.row(post.id)).toEqual({ state: "featurizing", flags: ["refeaturized"], error: null });
  });

  it("reads a half-written RoI object again on retry, and predicts from the whole one", async () => {
    // s3rver writes objects in place: another feature job storing the same image can expose a partial object
    h = await new PredictHarness(scratch.url).start();
    const post = await h.post("a red sunset over the ocean", { detector });
    const whole = encodeRoi(post.roi!);
    await h.direct.put(post.key!, whole.subarray(0, 4));
    await h.enqueue(post.id);
    const job = () => h!.predict.getJob(jobIds.predict(h!.rangeOf(post.id)));
    await expect.poll(async () => (await job())?.attemptsMade ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
    await h.direct.put(post.key!, whole);
    expect((await h.settled(post.id, 60_000)).returnvalue).toEqual(ONE_POST.done);
    expect(await h.row(post.id)).toEqual({ state: "done", flags: [], error: null });
    expectRanking(
      await h.predictions(post.id),
      await expected({
        text: "a red sunset over the ocean",
        features: post.roi!.features,
        boxes: post.roi!.boxes,
      }),
    );
  }, 70_000);

  it("ranks each post of a micro-batch from its own row when an unreadable RoI object is decoded before them", async () => {
    // RoI objects are decoded straight into the batch's input tensor: a failed one must neither shift nor leak
    // into the rows of the posts after it
    h = await new PredictHarness(scratch.url, { LXTAG_MAX_WAIT_MS: "2000" }).start();
    await h.handle.serving;
    const half = await h.post("half written", { detector });
    const ok = await h.post("a red sunset over the ocean", { detector });
    const plain = await h.post("coffee and croissants in paris");
    const other = await h.post("my dog at the beach", { detector });
    const whole = encodeRoi(half.roi!);
    await h.direct.put(half.key!, whole.subarray(0, whole.length - 1000));
    await h.enqueue(half.id, ok.id, plain.id, other.id);
    for (const p of [ok, plain, other]) expect((await h.settled(p.id)).returnvalue).toEqual(ONE_POST.done);
    expect(h.handle.predictor.batcher.stats.recent[0]).toBe(4); // the four were one micro-batch
    expect((await h.row(half.id)).state).toBe("predicting"); // its job is retried
    expectRanking(
      await h.predictions(ok.id),
      await expected({
        text: "a red sunset over the ocean",
        features: ok.roi!.features,
        boxes: ok.roi!.boxes,
      }),
    );
    expectRanking(await h.predictions(plain.id), await expected({ text: "coffee and croissants in paris" }));
    expectRanking(
      await h.predictions(other.id),
      await expected({ text: "my dog at the beach", features: other.roi!.features, boxes: other.roi!.boxes }),
    );
    await h.direct.put(half.key!, whole);
    expect((await h.settled(half.id, 60_000)).returnvalue).toEqual(ONE_POST.done);
  }, 70_000);

  it("decodes an image shared by posts of one micro-batch once; each post is ranked from its own caption", async () => {
    h = await new PredictHarness(scratch.url, { LXTAG_MAX_WAIT_MS: "2000" }).start();
    await h.handle.serving;
    const sunset = await h.post("a red sunset over the ocean", { detector });
    const dog = await h.post("my dog at the beach", { detector });
    const again = [
      { ...(await h.sharing("sunset again", sunset.sha!)), text: "sunset again", roi: sunset.roi! },
      { ...(await h.sharing("the dog again", dog.sha!)), text: "the dog again", roi: dog.roi! },
      { ...(await h.sharing("and the sunset", sunset.sha!)), text: "and the sunset", roi: sunset.roi! },
    ];
    await h.enqueue(sunset.id, dog.id, ...again.map((p) => p.id));
    for (const p of [sunset, dog, ...again])
      expect((await h.settled(p.id)).returnvalue).toEqual(ONE_POST.done);
    expect(h.handle.predictor.batcher.stats.recent[0]).toBe(5); // one micro-batch
    expect(h.handle.predictor.stats.decoded).toBe(2);
    for (const p of again)
      expectRanking(
        await h.predictions(p.id),
        await expected({ text: p.text, features: p.roi.features, boxes: p.roi.boxes }),
      );
  });

  it("fails a post whose RoI object stays unreadable through its attempts, with the reason", async () => {
    h = await new PredictHarness(scratch.url).start();
    const post = await h.post("my dog", { detector, gone: true });
    await h.direct.put(post.key!, Buffer.from("not a safetensors file"));
    const range = h.rangeOf(post.id);
    await h.predict.add("predict", range, {
      jobId: jobIds.predict(range),
      attempts: 2,
      backoff: { type: "fixed", delay: 100 },
    });
    const job = await h.settled(post.id);
    expect(await job.getState()).toBe("failed");
    expect(job.attemptsMade).toBe(2);
    await expect.poll(async () => (await h!.row(post.id)).state).toBe("failed");
    expect((await h.row(post.id)).error).toMatch(/^predict-failed: RoI object .* is unreadable/);
    expect(await h.predictions(post.id)).toEqual([]);
  });

  it("leaves the posts of a range's part job that fails for good to the range's own predict job", async () => {
    h = await new PredictHarness(scratch.url).start();
    const post = await h.post("my dog", { detector, gone: true });
    const sound = encodeRoi(randomRoi(detector));
    await h.direct.put(post.key!, Buffer.from("not a safetensors file"));
    const range = h.rangeOf(post.id);
    // the part a features attempt handed on before another post of the range failed (featurize.ts)
    await h.predict.add("predict", range, {
      jobId: jobIds.predictPart(range, 0),
      attempts: 2,
      backoff: { type: "fixed", delay: 100 },
    });
    const part = await waitForJob(h.predict, jobIds.predictPart(range, 0));
    expect(await part.getState()).toBe("failed");
    await new Promise((r) => setTimeout(r, 500)); // the worker records a final failure once it sees it
    expect((await h.row(post.id)).state).toBe("predicting");
    // the object is whole again (written anew by a feature worker), and the range's own job predicts the post
    await h.direct.put(post.key!, sound);
    await h.enqueue(post.id);
    expect((await h.settled(post.id)).returnvalue).toEqual(ONE_POST.done);
    expect((await h.row(post.id)).state).toBe("done");
  });

  it("predicts a post once when its range's part job and the range's own job share a micro-batch", async () => {
    h = await new PredictHarness(scratch.url, { LXTAG_MAX_WAIT_MS: "2000" }).start();
    const post = await h.post("two jobs, one post", { detector });
    const range = h.rangeOf(post.id);
    // added together: the worker takes both, and each hands the post to the batcher within its 2 s wait
    await h.predict.addBulk([
      { name: "predict", data: range, opts: { jobId: jobIds.predictPart(range, 0) } },
      { name: "predict", data: range, opts: { jobId: jobIds.predict(range) } },
    ]);
    for (const id of [jobIds.predictPart(range, 0), jobIds.predict(range)])
      expect((await waitForJob(h.predict, id)).returnvalue).toEqual(ONE_POST.done);
    expect(h.handle.predictor.batcher.stats.recent).toEqual([2]); // both in one micro-batch
    expect((await h.predictions(post.id)).length).toBe(TOP_K); // written once: one statement, no conflict
    expect((await h.row(post.id)).state).toBe("done");
  });

  it("skips a post that is not waiting for prediction", async () => {
    h = await new PredictHarness(scratch.url).start();
    const post = await h.post("a failed post");
    await h.repos.posts.markFailed(post.id, "ingest: malformed");
    await h.enqueue(post.id);
    // a range job reads only its posts waiting for prediction: this one is not even taken
    expect((await h.settled(post.id)).returnvalue).toEqual({ done: 0, refeaturized: 0, skipped: 0 });
    expect(await h.predictions(post.id)).toEqual([]);
  });

  it("predicts a range's posts waiting for prediction in one job, and leaves its other posts alone", async () => {
    h = await new PredictHarness(scratch.url).start();
    const posts = [
      await h.post("a red sunset over the ocean", { detector }),
      await h.post("coffee and croissants in paris"),
      await h.post("my dog at the beach", { detector }),
    ];
    const failed = await h.post("a failed post");
    await h.repos.posts.markFailed(failed.id, "ingest: malformed");
    const range = await h.enqueueRange(h.rangeOf(posts[0]!.id).fromSeq, 4);
    expect((await h.settled(range)).returnvalue).toEqual({ done: 3, refeaturized: 0, skipped: 0 });
    expect(h.handle.predictor.batcher.stats.recent[0]).toBe(3); // one micro-batch
    for (const p of posts) expect((await h.row(p.id)).state).toBe("done");
    expect(await h.predictions(failed.id)).toEqual([]);
    // the range's job run again (as the reconciler would after a lost completion): nothing is predicted twice
    await (await h.predict.getJob(jobIds.predict(range)))!.remove();
    await h.enqueueRange(range.fromSeq, range.size);
    expect((await h.settled(range)).returnvalue).toEqual({ done: 0, refeaturized: 0, skipped: 0 });
  });

  it("retries only the post whose RoI read failed; the rest of its micro-batch is written at once", async () => {
    // S3 through a proxy that refuses one RoI object for its next 3 requests (the SDK's own attempts)
    h = await new PredictHarness(scratch.url, { LXTAG_MAX_WAIT_MS: "2000" }, faulty.url).start();
    await h.handle.serving;
    const ok = await h.post("a red sunset over the ocean", { detector });
    const flaky = await h.post("my dog at the beach", { detector });
    const plain = await h.post("coffee and croissants in paris");
    faulty.fail(flaky.key!, 3);
    const atFirstFailure: Record<string, string> = {};
    const failures: string[] = [];
    h.handle.worker!.on("failed", async (job) => {
      failures.push(job!.id!);
      if (failures.length > 1) return;
      for (const p of [ok, plain, flaky]) atFirstFailure[p.id] = (await h!.row(p.id)).state;
    });
    await h.enqueue(ok.id, flaky.id, plain.id);
    for (const p of [ok, flaky, plain]) expect((await h.settled(p.id)).returnvalue).toEqual(ONE_POST.done);
    expect(h.handle.predictor.batcher.stats.recent[0]).toBe(3); // the three were one micro-batch
    expect(faulty.failed.get(flaky.key!)).toBe(3);
    expect(failures).toEqual([jobIds.predict(h.rangeOf(flaky.id))]);
    expect(atFirstFailure).toEqual({ [ok.id]: "done", [plain.id]: "done", [flaky.id]: "predicting" });
    // once S3 answered, the retried post got its real features, unflagged
    expect(await h.row(flaky.id)).toEqual({ state: "done", flags: [], error: null });
    expectRanking(
      await h.predictions(flaky.id),
      await expected({ text: "my dog at the beach", features: flaky.roi!.features, boxes: flaky.roi!.boxes }),
    );
  });
});
