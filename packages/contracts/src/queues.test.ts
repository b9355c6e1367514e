import { describe, expect, it } from "vitest";
import {
  featureJobSchema,
  ingestJobSchema,
  isPostRange,
  isPredictPart,
  jobIds,
  POSTS_PER_JOB,
  postRangeOf,
  predictJobSchema,
  QUEUES,
} from "./queues.js";

const BATCH = "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f60";
const POST = "8d0b7c1e-5a4f-5b3e-a2d1-0c9b8a7f6e5d";

describe("job payloads", () => {
  it("carry ids only: a range of a batch's posts, or one post", () => {
    expect(ingestJobSchema.parse({ batchId: BATCH })).toEqual({ batchId: BATCH });
    const range = { batchId: BATCH, fromSeq: 64, size: POSTS_PER_JOB };
    for (const schema of [featureJobSchema, predictJobSchema]) {
      expect(schema.parse(range)).toEqual(range);
      expect(schema.parse({ batchId: BATCH, postId: POST })).toEqual({ batchId: BATCH, postId: POST });
    }
    expect(isPostRange(featureJobSchema.parse(range))).toBe(true);
    expect(isPostRange(predictJobSchema.parse({ batchId: BATCH, postId: POST }))).toBe(false);
  });

  it("reject missing or malformed ids and ranges", () => {
    expect(ingestJobSchema.safeParse({}).success).toBe(false);
    expect(ingestJobSchema.safeParse({ batchId: "batch-1" }).success).toBe(false);
    expect(featureJobSchema.safeParse({ batchId: BATCH }).success).toBe(false);
    expect(predictJobSchema.safeParse({ batchId: BATCH, postId: 7 }).success).toBe(false);
    for (const bad of [
      { fromSeq: -1, size: 32 },
      { fromSeq: 1.5, size: 32 },
      { fromSeq: 0, size: 0 },
      { fromSeq: 0, size: 1001 },
    ])
      expect(featureJobSchema.safeParse({ batchId: BATCH, ...bad }).success, JSON.stringify(bad)).toBe(false);
  });
});

describe("postRangeOf", () => {
  it("puts a post in the range of POSTS_PER_JOB posts that holds its seq", () => {
    expect(postRangeOf(BATCH, 0)).toEqual({ batchId: BATCH, fromSeq: 0, size: POSTS_PER_JOB });
    expect(postRangeOf(BATCH, POSTS_PER_JOB - 1).fromSeq).toBe(0);
    expect(postRangeOf(BATCH, POSTS_PER_JOB).fromSeq).toBe(POSTS_PER_JOB);
    expect(postRangeOf(BATCH, 3 * POSTS_PER_JOB + 5).fromSeq).toBe(3 * POSTS_PER_JOB);
  });
});

describe("jobIds", () => {
  const range = postRangeOf(BATCH, 40);
  const ids = [jobIds.ingest(BATCH), jobIds.features(range), jobIds.predict(range)];

  it("contain no ':' (BullMQ refuses custom ids with one)", () => {
    for (const id of ids) expect(id).not.toContain(":");
  });

  it("are deterministic, name their stage and range, and differ between stages and ranges", () => {
    expect([jobIds.ingest(BATCH), jobIds.features(range), jobIds.predict(range)]).toEqual(ids);
    expect(ids).toEqual([`ingest-${BATCH}`, `features-${BATCH}-32-32`, `predict-${BATCH}-32-32`]);
    expect(new Set(ids).size).toBe(3);
    expect(jobIds.features(postRangeOf(BATCH, 0))).not.toBe(jobIds.features(range));
    // a range of another size is another job, never taken for this one
    expect(jobIds.features({ ...range, size: 1 })).not.toBe(jobIds.features(range));
  });

  it("give a re-featurized post's jobs ids of their own, per detector, without ':'", () => {
    const again = [jobIds.refeaturize(POST, "frcnn-tiny-demo-1a2b3c4d"), jobIds.repredict(POST, "bua:r101")];
    expect(again).toEqual([`features-${POST}-frcnn-tiny-demo-1a2b3c4d`, `predict-${POST}-bua_r101`]);
    expect(jobIds.refeaturize(POST, "d2")).not.toBe(jobIds.refeaturize(POST, "d1"));
    for (const id of again) expect(ids).not.toContain(id);
  });

  it("tell a range's part predict jobs from its own and from another range's", () => {
    expect(isPredictPart(range, jobIds.predictPart(range, 0))).toBe(true);
    expect(isPredictPart(range, jobIds.predictPart(range, 3))).toBe(true);
    expect(isPredictPart(range, jobIds.predict(range))).toBe(false);
    expect(isPredictPart(range, jobIds.predictPart({ ...range, size: 1 }, 0))).toBe(false);
    expect(isPredictPart(range, undefined)).toBe(false);
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
