// Provisioning the serving detector, in a bucket of the test's own (the shared detectors/current.json is what
// every other process serves): provisioners started together publish one detector.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CURRENT_DETECTOR_KEY, currentDetectorSchema } from "@lxtag/contracts";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type TrainerConfig } from "./config.js";
import { ensureDetector } from "./detector-bundle.js";

describe("ensureDetector", () => {
  let config: TrainerConfig;
  let store: ObjectStore;
  beforeAll(async () => {
    config = loadConfig({
      ...process.env,
      LXTAG_S3_BUCKET: `lxtag-test-detector-${randomUUID().slice(0, 8)}`,
      LXTAG_CACHE_DIR: await mkdtemp(join(tmpdir(), "lxtag-ensure-detector-")),
      LXTAG_DETECTOR_CHECKPOINT: undefined, // the tiny detector, whatever this machine sets
    });
    store = new ObjectStore(storeOptions(config));
    await store.ensureBucket();
  });
  afterAll(async () => {
    await store?.deleteBucket();
    store?.destroy();
    if (config) await rm(config.LXTAG_CACHE_DIR, { recursive: true, force: true });
  });

  it("publishes one detector when two provision at once: the second waits for the lock, then finds the first's", async () => {
    const lines: string[][] = [[], []];
    const [a, b] = await Promise.all(lines.map((out) => ensureDetector(store, config, (l) => out.push(l))));
    expect(b!.id).toBe(a!.id);
    const current = currentDetectorSchema.parse(
      JSON.parse((await store.get(CURRENT_DETECTOR_KEY)).toString()),
    );
    expect(current.id).toBe(a!.id);
    const exported = lines.flat().filter((l) => l === "exporting the tiny detector");
    expect(exported).toHaveLength(1); // one engine run, one bundle published
    expect(lines.flat().filter((l) => l.startsWith("published detector"))).toEqual([
      `published detector ${a!.id} as the serving one`,
    ]);
    expect(lines.flat()).toContain("another process is provisioning the detector; waiting for it");
    expect(a!.manifest).toEqual(b!.manifest);

    // and once one is published, a later call takes it without the engine
    const later: string[] = [];
    expect((await ensureDetector(store, config, (l) => later.push(l))).id).toBe(a!.id);
    expect(later).toEqual([]);
  });
});
