import { describe, expect, it } from "vitest";
import { featureJobSchema, ingestJobSchema, jobIds, predictJobSchema, QUEUES } from "./queues.js";

const BATCH = "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f60";
const POST = "8d0b7c1e-5a4f-5b3e-a2d1-0c9b8a7f6e5d";

describe("job payloads", () => {
  it("carry ids only, as uuids", () => {
    expect(ingestJobSchema.parse({ batchId: BATCH })).toEqual({ batchId: BATCH });
    expect(featureJobSchema.parse({ batchId: BATCH, postId: POST })).toEqual({
      batchId: BATCH,
      postId: POST,
    });
    expect(predictJobSchema.parse({ batchId: BATCH, postId: POST })).toEqual({
      batchId: BATCH,
      postId: POST,
    });
  });

  it("reject missing or malformed ids", () => {
    expect(ingestJobSchema.safeParse({}).success).toBe(false);
    expect(ingestJobSchema.safeParse({ batchId: "batch-1" }).success).toBe(false);
    expect(featureJobSchema.safeParse({ batchId: BATCH }).success).toBe(false);
    expect(predictJobSchema.safeParse({ batchId: BATCH, postId: 7 }).success).toBe(false);
  });
});

describe("jobIds", () => {
  const ids = [jobIds.ingest(BATCH), jobIds.features(POST), jobIds.predict(POST)];

  it("contain no ':' (BullMQ refuses custom ids with one)", () => {
    for (const id of ids) expect(id).not.toContain(":");
  });

  it("are deterministic, name their stage and differ between stages", () => {
    expect([jobIds.ingest(BATCH), jobIds.features(POST), jobIds.predict(POST)]).toEqual(ids);
    expect(ids).toEqual([`ingest-${BATCH}`, `features-${POST}`, `predict-${POST}`]);
    expect(new Set(ids).size).toBe(3);
  });

  it("give a re-featurized post's jobs ids of their own, per detector, without ':'", () => {
    const again = [jobIds.refeaturize(POST, "frcnn-tiny-demo-1a2b3c4d"), jobIds.repredict(POST, "bua:r101")];
    expect(again).toEqual([`features-${POST}-frcnn-tiny-demo-1a2b3c4d`, `predict-${POST}-bua_r101`]);
    expect(jobIds.refeaturize(POST, "d2")).not.toBe(jobIds.refeaturize(POST, "d1"));
    for (const id of again) expect(ids).not.toContain(id);
  });
});

describe("QUEUES", () => {
  it("names the three stages and the training queue", () => {
    expect(QUEUES).toEqual({
      ingest: "ingest",
      features: "features",
      predict: "predict",
      training: "training",
    });
  });
});
