// S3 goes away for a few seconds while a post is being featurized: the job is retried and the post ends with
// real features, not degraded to its caption.
import { createHash, randomUUID } from "node:crypto";
import { roiCacheKey } from "@lxtag/contracts";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { decodeRoi } from "@lxtag/storage";
import { TcpProxy } from "@lxtag/testkit";
import type { Detector } from "@lxtag/vision";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeatureHarness, tinyDetector } from "./testing/fixtures.js";
import { randomPng } from "./testing/png.js";

describe("feature worker during an S3 outage", () => {
  let detector: Detector;
  let proxy: TcpProxy;
  let h: FeatureHarness;
  beforeAll(async () => {
    detector = await tinyDetector();
    proxy = await TcpProxy.start(parseEnv(serviceEnvSchema, process.env).LXTAG_S3_ENDPOINT);
    h = await new FeatureHarness(detector, {}, proxy.url).start();
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.close();
    await detector?.dispose();
  });

  it("retries through a 2.5 s cut and ends with the image's RoIs, not caption-only", async () => {
    const image = randomPng();
    const post = await h.post(`test/feature-worker/${randomUUID()}/outage.png`, image);
    const failures = h.failures();
    let outage: Promise<void> | undefined;
    h.bullWorker.on("active", () => {
      outage ??= proxy.outage(2500); // cut as the job starts, before its first S3 request
    });
    await h.enqueue(post);
    const job = await h.settled(post, 60_000);
    await outage;
    expect(await job.getState(), job.failedReason).toBe("completed");
    expect(job.returnvalue.posts).toEqual({ detected: 1 });
    const sha = createHash("sha256").update(image).digest("hex");
    expect(await h.row(post)).toEqual({ state: "predicting", flags: [], imageSha256: sha, error: null });
    expect(decodeRoi(await h.direct.get(roiCacheKey(detector.id, sha))).detectorId).toBe(detector.id);
    expect(failures.get(job.id!)?.length).toBeGreaterThanOrEqual(1); // it did fail while S3 was away
    expect(proxy.isUp).toBe(true);
  });
});
