// An upload whose API process died mid-stream: its batch stayed `uploading` with parts in S3. The API's reconciler
// (its `uploads` hook, as main.ts wires it) deletes the parts from the real S3 server and fails the batch.
import { randomUUID } from "node:crypto";
import { Reconciler } from "@lxtag/reconciler";
import { describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";
import { uploadKey } from "./upload-keys.js";
import { discardUpload } from "./uploads.js";

describe("abandoned uploads", () => {
  // a database of its own: a reconciler pass looks at every unfinished batch, and other suites' are none of its business
  const api = useTestApi({ scratchDatabase: true });

  it("are found by the reconciler, their parts deleted from S3 and their batch failed; others' parts stay", async () => {
    const { repos, store, queues, db } = api.deps;
    const stale = randomUUID();
    const running = randomUUID();
    for (const batchId of [stale, running]) await repos.batches.createUploading(batchId, api.keyId);
    await db.pool.query("UPDATE batches SET created_at = now() - interval '2 hours' WHERE id = $1", [stale]);
    const staleParts = [1, 2].map((n) => uploadKey(api.keyId, stale, `part-${n}.zip`));
    const runningPart = uploadKey(api.keyId, running, "part-1.zip");
    for (const key of [...staleParts, runningPart]) await store.put(key, "zip bytes");

    const reconciler = new Reconciler({
      repos,
      queues,
      log: api.deps.log,
      servingDetector: async () => undefined,
      uploads: { abandonedAfterMs: 3_600_000, discard: (batch) => discardUpload(store, batch) },
    });
    const report = await reconciler.run();

    expect(report.abandonedUploads).toBe(1);
    for (const key of staleParts) expect(await store.exists(key), key).toBe(false);
    expect(await store.exists(runningPart)).toBe(true);
    const failed = await api.app.inject({
      method: "GET",
      url: `/v1/batches/${stale}`,
      headers: { "x-api-key": api.key },
    });
    expect(failed.json()).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/^upload-abandoned: /),
    });
    expect((await repos.batches.find(running))?.state).toBe("uploading");
    await store.delete([runningPart]);
  });
});
