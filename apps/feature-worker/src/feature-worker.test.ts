// The feature worker's own code path (startFeatureWorker on a real BullMQ queue, real Postgres and S3, a real
// ONNX detector): what a post ends as for each kind of image.
import { createHash, randomUUID } from "node:crypto";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CURRENT_DETECTOR_KEY, detectorBundlePrefix, jobIds, roiCacheKey } from "@lxtag/contracts";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { decodeRoi, ObjectStore } from "@lxtag/storage";
import { S3Proxy, waitForJob } from "@lxtag/testkit";
import { type Detector, decodeImage } from "@lxtag/vision";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { FeatureHarness, publishDetector, tinyDetector, tinyDetectorBundle } from "./testing/fixtures.js";
import { randomPng } from "./testing/png.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (name: string) => `test/feature-worker/${randomUUID()}/${name}`;

/**
 * A harness that serves the detector published in an S3 bucket of the test's own (publishing there leaves the
 * shared detectors/current.json as it is), looked for every 100 ms; the bucket goes when the test ends.
 */
function ownBucketHarness(): { harness: FeatureHarness; bucket: ObjectStore } {
  const env = { LXTAG_S3_BUCKET: `lxtag-test-fw-${randomUUID().slice(0, 8)}`, LXTAG_DETECTOR_POLL_MS: "100" };
  const bucket = new ObjectStore(storeOptions(parseEnv(serviceEnvSchema, { ...process.env, ...env })));
  onTestFinished(async () => {
    await bucket.deleteBucket();
    bucket.destroy();
  });
  return { harness: new FeatureHarness("published", env), bucket };
}

describe("feature worker", () => {
  let bundle: string;
  let detector: Detector;
  let h: FeatureHarness | undefined;
  beforeAll(async () => {
    bundle = await tinyDetectorBundle();
    detector = await tinyDetector(bundle);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await detector?.dispose();
    if (bundle) await rm(dirname(bundle), { recursive: true, force: true });
  });

  it("detects a new image once, caches its RoIs and hands the post to prediction; the same image again is a cache hit", async () => {
    h = await new FeatureHarness(detector).start();
    const image = randomPng();
    const first = await h.post(key("a.png"), image);
    const second = await h.post(key("copy.png"), image);
    const runs = detector.runs;

    await h.enqueue(first);
    expect((await h.settled(first)).returnvalue.posts).toEqual({ detected: 1 });
    expect(await h.row(first)).toEqual({
      state: "predicting",
      flags: [],
      imageSha256: sha256(image),
      error: null,
    });
    const roi = decodeRoi(await h.direct.get(roiCacheKey(detector.id, sha256(image))));
    expect(roi.detectorId).toBe(detector.id);
    expect(roi.features).toHaveLength(36 * 2048);
    expect([roi.imageWidth, roi.imageHeight]).toEqual([64, 48]);
    expect((await h.predict.getJob(jobIds.predict(h.rangeOf(first))))?.data).toEqual(h.rangeOf(first));

    await h.enqueue(second);
    expect((await h.settled(second)).returnvalue.posts).toEqual({ cached: 1 });
    expect((await h.row(second)).imageSha256).toBe(sha256(image));
    expect(detector.runs).toBe(runs + 1);
  });

  it("runs the detector on banners and strips as flat as 3000 x 1, and on 1 x 1 images", async () => {
    for (const [width, height] of [
      [3000, 1],
      [1, 3000],
      [5000, 3],
      [1, 1],
    ] as const) {
      const roi = await detector.detect(await decodeImage(randomPng(width, height)));
      expect([roi.imageWidth, roi.imageHeight, roi.boxes.length]).toEqual([width, height, 36 * 4]);
    }
  });

  it("trusts the hash ingest stored: a post whose image is already detected needs no download", async () => {
    h = await new FeatureHarness(detector).start();
    const image = randomPng();
    const first = await h.post(key("a.png"), image);
    await h.enqueue(first);
    expect((await h.settled(first)).returnvalue.posts).toEqual({ detected: 1 });
    const runs = detector.runs;
    // nothing under this image key: only the hash can tell that the RoIs are cached
    const second = await h.postFromIngest(key("never-written.png"), sha256(image));
    await h.enqueue(second);
    expect((await h.settled(second)).returnvalue.posts).toEqual({ cached: 1 });
    expect(await h.row(second)).toEqual({
      state: "predicting",
      flags: [],
      imageSha256: sha256(image),
      error: null,
    });
    expect(detector.runs).toBe(runs);
    // a hash with no RoIs yet: the image is downloaded and detected as before
    const fresh = randomPng();
    const freshKey = key("fresh.png");
    await h.direct.put(freshKey, fresh);
    const third = await h.postFromIngest(freshKey, sha256(fresh));
    await h.enqueue(third);
    expect((await h.settled(third)).returnvalue.posts).toEqual({ detected: 1 });
    expect(detector.runs).toBe(runs + 1);
  });

  it("runs the detector once for posts of one image whose jobs run at once; the others join that run", async () => {
    h = await new FeatureHarness(detector, { LXTAG_FEATURE_CONCURRENCY: "4" }).start();
    const image = randomPng();
    const imageKey = key("shared.png");
    await h.direct.put(imageKey, image);
    const posts = await Promise.all([1, 2, 3, 4].map(() => h!.postFromIngest(imageKey, sha256(image))));
    const runs = detector.runs;
    await h.enqueue(...posts);
    const outcomes = await Promise.all(
      posts.map(async (p) => Object.keys((await h!.settled(p)).returnvalue.posts).join()),
    );
    expect(detector.runs).toBe(runs + 1);
    expect(outcomes.toSorted()).toEqual(["cached", "cached", "cached", "detected"]);
    for (const p of posts) expect((await h.row(p)).state).toBe("predicting");
  });

  it("remembers the RoI objects it saw: a later post of the image asks S3 nothing, a post sent back asks again", async () => {
    const proxy = await S3Proxy.start(parseEnv(serviceEnvSchema, process.env).LXTAG_S3_ENDPOINT);
    try {
      h = await new FeatureHarness(detector, {}, proxy.url).start();
      const image = randomPng();
      const imageKey = key("seen.png");
      await h.direct.put(imageKey, image);
      const roiKey = roiCacheKey(detector.id, sha256(image));
      const asked = () => proxy.seen.filter((r) => r.endsWith(roiKey));
      const first = await h.postFromIngest(imageKey, sha256(image));
      await h.enqueue(first);
      expect((await h.settled(first)).returnvalue.posts).toEqual({ detected: 1 });
      proxy.seen.length = 0;
      const second = await h.postFromIngest(imageKey, sha256(image));
      await h.enqueue(second);
      expect((await h.settled(second)).returnvalue.posts).toEqual({ cached: 1 });
      expect(asked()).toEqual([]);
      // removed since: the predict worker finds it gone and sends the post back, which S3 is asked about
      await h.direct.delete([roiKey]);
      expect((await h.sendBack(second, detector.id)).returnvalue.posts).toEqual({ detected: 1 });
      expect(asked()[0]).toMatch(/^HEAD /);
      expect(await h.direct.exists(roiKey)).toBe(true);
      // an image known by its key only (a JSON batch's) is downloaded and hashed, then remembered as well
      proxy.seen.length = 0;
      const byKey = await h.post(key("by-key.png"), image);
      await h.enqueue(byKey);
      expect((await h.settled(byKey)).returnvalue.posts).toEqual({ cached: 1 });
      expect(asked()).toEqual([]);
    } finally {
      await h?.close();
      h = undefined;
      await proxy.close();
    }
  });

  it("with no detector published, takes no jobs (they wait, unfailed), says so once, and serves once one is", async () => {
    ({ harness: h } = ownBucketHarness());
    const warn = vi.spyOn(h.log, "warn");
    await h.start();
    const image = randomPng();
    const post = await h.post(key("fresh-install.png"), image);
    await h.enqueue(post);
    await sleep(1000); // ten looks for a detector
    expect(h.worker.worker).toBeUndefined();
    expect(await h.features.getJobState(jobIds.features(h.rangeOf(post)))).toBe("waiting");
    expect(await h.row(post)).toEqual({ state: "pending", flags: [], imageSha256: null, error: null });
    const waiting = warn.mock.calls.filter(([, msg]) =>
      String(msg).startsWith("waiting for a serving detector"),
    );
    expect(waiting).toHaveLength(1);
    expect(waiting[0]![0]).toMatchObject({ reason: "detectors/current.json does not exist" });

    const id = await publishDetector(h.direct, bundle);
    expect((await h.worker.serving).id).toBe(id);
    expect((await h.settled(post)).returnvalue.posts).toEqual({ detected: 1 });
    expect(await h.row(post)).toEqual({
      state: "predicting",
      flags: [],
      imageSha256: sha256(image),
      error: null,
    });
    expect(decodeRoi(await h.direct.get(roiCacheKey(id, sha256(image)))).detectorId).toBe(id);
    expect(await h.predict.getJob(jobIds.predict(h.rangeOf(post)))).toBeDefined();
  });

  it("takes the next jobs with a newly published serving detector, without a restart", async () => {
    const own = ownBucketHarness();
    h = own.harness;
    const { bucket } = own;
    // a second detector: the same weights under another id, as a newly provisioned one would be published
    const second = join(dirname(bundle), `second-${randomUUID().slice(0, 8)}`);
    await cp(bundle, second, { recursive: true });
    onTestFinished(() => rm(second, { recursive: true, force: true }));
    await bucket.ensureBucket();
    const first = await publishDetector(bucket, bundle);
    const manifest = JSON.parse(await readFile(join(second, "manifest.json"), "utf8"));
    await writeFile(join(second, "manifest.json"), JSON.stringify({ ...manifest, id: `${first}-second` }));
    const info = vi.spyOn(h.log, "info");
    const warns = vi.spyOn(h.log, "warn");
    const errors = vi.spyOn(h.log, "error");
    await h.start();
    expect((await h.worker.serving).id).toBe(first);
    const before = randomPng();
    const old = await h.post(key("before.png"), before);
    await h.enqueue(old);
    expect((await h.settled(old)).returnvalue.posts).toEqual({ detected: 1 });

    const id = await publishDetector(h.direct, second);
    expect(id).toBe(`${first}-second`);
    const changed = () =>
      info.mock.calls.filter(([, msg]) => msg === "serving detector changed: jobs from now on use it");
    await expect.poll(() => changed().length, { timeout: 20_000 }).toBe(1);
    expect(changed()[0]![0]).toMatchObject({ detector: id, previous: first });
    expect(h.worker.detector?.id).toBe(id);
    // the old bundle leaves this host's disk
    await expect.poll(() => readdir(join(h!.cacheDir, "detectors"))).toEqual([id]);
    const after = randomPng();
    const next = await h.post(key("after.png"), after);
    await h.enqueue(next);
    expect((await h.settled(next)).returnvalue.posts).toEqual({ detected: 1 });
    expect(decodeRoi(await h.direct.get(roiCacheKey(id, sha256(after)))).detectorId).toBe(id);
    expect(await h.direct.exists(roiCacheKey(first, sha256(after)))).toBe(false);
    expect(decodeRoi(await h.direct.get(roiCacheKey(first, sha256(before)))).detectorId).toBe(first);
    // a swap is no trouble: its metrics and the old detector's release went without a warning
    expect([...warns.mock.calls, ...errors.mock.calls]).toEqual([]);
  });

  it("keeps serving its detector when a newly published one does not load, and does not try it every poll", async () => {
    const own = ownBucketHarness();
    h = own.harness;
    const { bucket } = own;
    await bucket.ensureBucket();
    const first = await publishDetector(bucket, bundle);
    const warn = vi.spyOn(h.log, "warn");
    await h.start();
    expect((await h.worker.serving).id).toBe(first);
    // a serving detector whose bundle is not there as its manifest says (a file missing)
    const broken = `${first}-broken`;
    const manifest = JSON.parse(await readFile(join(bundle, "manifest.json"), "utf8"));
    await bucket.put(
      `${detectorBundlePrefix(broken)}manifest.json`,
      JSON.stringify({ ...manifest, id: broken }),
    );
    await bucket.put(CURRENT_DETECTOR_KEY, JSON.stringify({ id: broken }));
    const failed = () =>
      warn.mock.calls.filter(
        ([, msg]) => msg === "could not check for a new serving detector; serving this one",
      );
    await expect.poll(() => failed().length, { timeout: 10_000 }).toBe(1);
    expect(failed()[0]![0]).toMatchObject({ detector: first, retryInS: 3 });
    await sleep(1000); // ten polls' time: none looks again yet
    expect(failed()).toHaveLength(1);
    expect(h.worker.detector?.id).toBe(first);
    const post = await h.post(key("still.png"), randomPng());
    await h.enqueue(post);
    expect((await h.settled(post)).returnvalue.posts).toEqual({ detected: 1 });
  });

  it("hands a post sent back for featurization to prediction under the re-run's job id", async () => {
    h = await new FeatureHarness(detector).start();
    const image = randomPng();
    const post = await h.post(key("refeaturized.png"), image);
    // as the predict worker leaves it: featurized once (another detector's RoIs), then sent back
    await h.repos.posts.markFeaturized(post, sha256(image));
    expect((await h.sendBack(post, detector.id)).returnvalue.posts).toEqual({ detected: 1 });
    expect(await h.row(post)).toEqual({
      state: "predicting",
      flags: ["refeaturized"],
      imageSha256: sha256(image),
      error: null,
    });
    expect((await h.predict.getJob(jobIds.repredict(post, detector.id)))?.data).toEqual({
      batchId: h.batchId,
      postId: post,
    });
    expect(await h.predict.getJob(jobIds.predict(h.rangeOf(post)))).toBeUndefined();
  });

  it("with LXTAG_IMAGE_BATCH=4, concurrent jobs share detector runs", async () => {
    h = await new FeatureHarness(detector, {
      LXTAG_IMAGE_BATCH: "4",
      LXTAG_FEATURE_CONCURRENCY: "4",
      LXTAG_IMAGE_BATCH_WAIT_MS: "2000",
    }).start();
    const posts = await Promise.all([1, 2, 3, 4].map((i) => h!.post(key(`${i}.png`), randomPng())));
    const runs = detector.runs;
    await h.enqueue(...posts);
    for (const post of posts) expect((await h.settled(post)).returnvalue.posts).toEqual({ detected: 1 });
    expect(detector.runs).toBe(runs + 4); // every image detected, once
    const batches = await h.observed("lxtag_feature_image_batch_size");
    expect(batches.sum).toBe(4);
    expect(batches.count).toBeLessThan(4); // at least two images went through the detector together
  });

  it("without batching, each image is its own detector run", async () => {
    h = await new FeatureHarness(detector).start();
    const posts = await Promise.all([1, 2].map((i) => h!.post(key(`${i}.png`), randomPng())));
    await h.enqueue(...posts);
    for (const post of posts) await h.settled(post);
    expect(await h.observed("lxtag_feature_image_batch_size")).toEqual({ count: 2, sum: 2 });
  });

  it("flags an image that will never be usable, at once, and predicts the post from its caption", async () => {
    h = await new FeatureHarness(detector).start();
    const failures = h.failures();
    const png = randomPng();
    const cases = {
      missing: await h.post(key("never-uploaded.png")),
      "corrupt-image": await h.post(key("truncated.png"), png.subarray(0, png.length / 2)),
      "unsupported-media": await h.post(key("notes.txt"), Buffer.from("not an image at all")),
    };
    const runs = detector.runs;
    await h.enqueue(...Object.values(cases));
    for (const [reason, post] of Object.entries(cases)) {
      const job = await h.settled(post);
      expect(job.returnvalue.posts, reason).toEqual({ "caption-only": 1 });
      expect(await h.row(post)).toEqual({
        state: "predicting",
        flags: ["caption-only", `image-error:${reason}`],
        imageSha256: null,
        error: null,
      });
      expect(await h.predict.getJob(jobIds.predict(h.rangeOf(post)))).toBeDefined();
    }
    expect(failures.size).toBe(0); // definitive answers: nothing retried
    expect(detector.runs).toBe(runs);
  });

  it("fails a post's job whose post does not exist without retrying it; a range without posts hands nothing on", async () => {
    h = await new FeatureHarness(detector).start();
    const ghost = randomUUID();
    const jobId = jobIds.refeaturize(ghost, detector.id);
    await h.features.add("features", { batchId: h.batchId, postId: ghost }, { jobId });
    const job = await waitForJob(h.features, jobId);
    expect(await job.getState()).toBe("failed");
    expect(job.failedReason).toBe(`post ${ghost} not found`);
    expect(job.attemptsMade).toBe(1);

    const empty = await h.enqueueRange(1000, 32);
    expect((await h.settled(empty)).returnvalue.posts).toEqual({});
    expect((await h.predict.getJobCounts("waiting")).waiting).toBe(0);
  });

  it("featurizes a range's posts in one job and hands the range to prediction in one predict job", async () => {
    h = await new FeatureHarness(detector, { LXTAG_FEATURE_CONCURRENCY: "2" }).start();
    const shared = randomPng();
    const sharedKey = key("range-shared.png");
    await h.direct.put(sharedKey, shared);
    const other = randomPng();
    const posts = [
      await h.postFromIngest(sharedKey, sha256(shared)),
      await h.post(null),
      await h.postFromIngest(sharedKey, sha256(shared)),
      await h.post(key("range-other.png"), other),
      await h.postFromIngest(sharedKey, sha256(shared)),
    ];
    const runs = detector.runs;
    const range = await h.enqueueRange(h.rangeOf(posts[0]!).fromSeq, posts.length);
    expect((await h.settled(range)).returnvalue).toEqual({
      outcome: "range",
      posts: { detected: 2, cached: 2, "caption-only": 1 },
    });
    expect(detector.runs).toBe(runs + 2);
    for (const post of posts) expect((await h.row(post)).state).toBe("predicting");
    expect((await h.predict.getJobCounts("waiting")).waiting).toBe(1);
    expect((await h.predict.getJob(jobIds.predict(range)))?.data).toEqual(range);
  });

  it("refuses LXTAG_IMAGE_BATCH above LXTAG_FEATURE_CONCURRENCY at start-up", () => {
    expect(
      () => new FeatureHarness(detector, { LXTAG_IMAGE_BATCH: "8", LXTAG_FEATURE_CONCURRENCY: "2" }),
    ).toThrow(/LXTAG_IMAGE_BATCH: must not exceed LXTAG_FEATURE_CONCURRENCY/);
  });
});
