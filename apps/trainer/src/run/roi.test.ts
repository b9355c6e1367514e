// Checking which images have RoI objects, against the real S3-compatible store, in a bucket of the test's own.
import { randomUUID } from "node:crypto";
import { roiCacheKey } from "@lxtag/contracts";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imagesWithRoi } from "./roi.js";

describe("imagesWithRoi", () => {
  const detector = "test-detector";
  const shas = Array.from({ length: 40 }, (_, i) => `${i}`.padStart(64, "0"));
  let store: ObjectStore;
  beforeAll(async () => {
    const env = parseEnv(serviceEnvSchema, {
      ...process.env,
      LXTAG_S3_BUCKET: `lxtag-test-roi-${randomUUID().slice(0, 8)}`,
    });
    store = new ObjectStore(storeOptions(env));
    await store.ensureBucket();
    // every other image has an RoI object
    for (const sha of shas.filter((_, i) => i % 2 === 0))
      await store.put(roiCacheKey(detector, sha), Buffer.from("roi"));
  });
  afterAll(async () => {
    await store?.deleteBucket();
    store?.destroy();
  });

  it("finds the images with an RoI object, each asked for once", async () => {
    const found = await imagesWithRoi(store, detector, [...shas, ...shas]);
    expect([...found].sort()).toEqual(shas.filter((_, i) => i % 2 === 0));
  });

  it("starts no further check once its signal is aborted (a run that lost its lock), and throws the reason", async () => {
    const lost = new AbortController();
    let asked = 0;
    // the store as the stage sees it, the lock lost during the first check
    const losing = Object.create(store, {
      exists: {
        value: async (key: string) => {
          asked += 1;
          lost.abort(new Error("lost the training-run lock: test"));
          return store.exists(key);
        },
      },
    }) as ObjectStore;
    await expect(imagesWithRoi(losing, detector, shas, lost.signal)).rejects.toThrow(
      "lost the training-run lock: test",
    );
    // the checks already under way (16 at once) finish; none starts after
    expect(asked).toBeLessThanOrEqual(16);
  });
});
