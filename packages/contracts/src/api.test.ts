import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  batchOptionsSchema,
  batchSourceSchema,
  batchSummarySchema,
  createBatchBodySchema,
  createTrainingRunBodySchema,
  isoDateSchema,
  labelsBodySchema,
  listPostsQuerySchema,
  listTrainingRunsQuerySchema,
  modelDetailSchema,
  modelVersionSchema,
  postDetailSchema,
  trainingDecisionSchema,
  trainingRunDetailSchema,
  trainingRunSummarySchema,
} from "./api.js";

describe("createBatchBodySchema", () => {
  it("accepts inline posts or s3Keys, each with optional options", () => {
    expect(createBatchBodySchema.parse({ posts: [{ caption: "a" }, "anything"] })).toEqual({
      posts: [{ caption: "a" }, "anything"],
    });
    expect(createBatchBodySchema.parse({ s3Keys: ["a.zip"], options: {} })).toEqual({
      s3Keys: ["a.zip"],
      options: { includeReels: true, includeArchived: false, allowTraining: true },
    });
  });

  it("rejects neither, empty lists, empty keys and more than 64 parts", () => {
    for (const body of [
      {},
      { posts: [] },
      { s3Keys: [] },
      { s3Keys: [""] },
      { s3Keys: Array.from({ length: 65 }, (_, i) => `p${i}.zip`) },
      { posts: "a caption" },
      [{ caption: "a" }],
    ])
      expect(createBatchBodySchema.safeParse(body).success, JSON.stringify(body).slice(0, 40)).toBe(false);
  });

  it("names the two shapes when the body is neither", () => {
    const issues = createBatchBodySchema.safeParse({ images: [] }).error!.issues;
    expect(issues.map((i) => i.message)).toEqual(["expected {posts: [...]} or {s3Keys: [...]}"]);
  });
});

describe("batchOptionsSchema", () => {
  it("defaults to reels in, archived out, training allowed", () => {
    expect(batchOptionsSchema.parse({})).toEqual({
      includeReels: true,
      includeArchived: false,
      allowTraining: true,
    });
    expect(batchOptionsSchema.parse({ includeArchived: true })).toEqual({
      includeReels: true,
      includeArchived: true,
      allowTraining: true,
    });
  });

  it("rejects non-booleans", () => {
    expect(batchOptionsSchema.safeParse({ includeReels: "yes" }).success).toBe(false);
  });
});

describe("batchSourceSchema", () => {
  it("is a zip (one or more keys) or a JSON object", () => {
    expect(batchSourceSchema.parse({ type: "json", key: "k" })).toEqual({ type: "json", key: "k" });
    expect(batchSourceSchema.safeParse({ type: "zip", keys: [] }).success).toBe(false);
    expect(batchSourceSchema.safeParse({ type: "tar", keys: ["k"] }).success).toBe(false);
  });
});

describe("labelsBodySchema", () => {
  it("defaults both lists to empty", () => {
    expect(labelsBodySchema.parse({})).toEqual({ add: [], remove: [] });
  });

  it("rejects empty or over-long hashtags and more than 200 of them", () => {
    expect(labelsBodySchema.safeParse({ add: [""] }).success).toBe(false);
    expect(labelsBodySchema.safeParse({ add: ["x".repeat(151)] }).success).toBe(false);
    expect(labelsBodySchema.safeParse({ remove: Array.from({ length: 201 }, () => "x") }).success).toBe(
      false,
    );
    expect(labelsBodySchema.safeParse({ add: "beach" }).success).toBe(false);
  });

  it("takes an optional reviewer of 1 to 100 characters", () => {
    expect(labelsBodySchema.parse({ reviewer: "ana" })).toEqual({ add: [], remove: [], reviewer: "ana" });
    expect(labelsBodySchema.parse({ reviewer: "r".repeat(100) }).reviewer).toHaveLength(100);
    for (const reviewer of ["", "r".repeat(101), 7, null])
      expect(labelsBodySchema.safeParse({ reviewer }).success, String(reviewer)).toBe(false);
  });
});

describe("listPostsQuerySchema", () => {
  it("coerces query-string numbers and defaults the limit", () => {
    expect(listPostsQuerySchema.parse({})).toEqual({ limit: 100 });
    expect(listPostsQuerySchema.parse({ cursor: "41", limit: "10", state: "done" })).toEqual({
      cursor: 41,
      limit: 10,
      state: "done",
    });
  });

  it("rejects bad cursors, limits and states", () => {
    for (const query of [
      { cursor: "abc" },
      { cursor: "-1" },
      { cursor: "1.5" },
      { limit: "0" },
      { limit: "1001" },
      { state: "stuck" },
    ])
      expect(listPostsQuerySchema.safeParse(query).success, JSON.stringify(query)).toBe(false);
  });
});

describe("isoDateSchema", () => {
  it("encodes a Date as ISO 8601 and decodes it back", () => {
    const date = new Date("2026-11-28T10:20:30.400Z");
    expect(z.encode(isoDateSchema, date)).toBe("2026-11-28T10:20:30.400Z");
    expect(isoDateSchema.parse("2026-11-28T10:20:30.400Z")).toEqual(date);
    expect(isoDateSchema.parse("2026-11-28T12:20:30+02:00")).toEqual(new Date("2026-11-28T10:20:30Z"));
  });

  it("rejects what is not an ISO timestamp", () => {
    expect(isoDateSchema.safeParse("28/11/2026").success).toBe(false);
    expect(isoDateSchema.safeParse(1764325230400).success).toBe(false);
  });
});

describe("response schemas", () => {
  const created = new Date("2026-11-28T10:00:00.000Z");

  it("encode a batch summary as the db returns it: Dates to ISO strings", () => {
    const summary = {
      id: "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f60",
      state: "processing" as const,
      totalPosts: 2,
      duplicatePosts: 1,
      counts: { pending: 1, featurizing: 0, predicting: 0, done: 1, failed: 0 },
      ingest: { postsRead: 3, postsTotal: 3 },
      progress: 0.5,
      createdAt: created,
      ingestedAt: created,
      finishedAt: null,
      error: null,
      warnings: [],
      errors: [],
    };
    const wire = z.encode(batchSummarySchema, summary);
    expect(wire).toEqual({ ...summary, createdAt: created.toISOString(), ingestedAt: created.toISOString() });
    expect(batchSummarySchema.parse(JSON.parse(JSON.stringify(wire)))).toEqual(summary);
  });

  it("drop what a response does not declare (a model's manifest)", () => {
    const model = {
      id: "m1",
      architecture: "lxmert4hashtag",
      state: "active" as const,
      bundlePrefix: "models/m1/",
      detectorId: "d1",
      hashtags: 100,
      metrics: { "f1@2": 0.47 },
      createdAt: created,
      activatedAt: null,
      refusal: null,
      manifest: { big: true },
    };
    expect(z.encode(modelVersionSchema, model)).not.toHaveProperty("manifest");
  });

  it("encode a model's detail: the entry plus its manifest's hashtags and dataset", () => {
    const model = {
      id: "m1",
      architecture: "lxmert4hashtag",
      state: "retired" as const,
      bundlePrefix: "models/m1/",
      detectorId: "d1",
      hashtags: 2,
      hashtagNames: ["travel", "food"],
      metrics: { "f1@2": 0.47 },
      dataset: { id: "ds1", posts: 320 },
      createdAt: created,
      activatedAt: created,
      refusal: { at: created, by: "lxtag predict-worker pid 7 on node-1", reason: "out of memory" },
    };
    const wire = z.encode(modelDetailSchema, model);
    expect(wire).toEqual({
      ...model,
      createdAt: created.toISOString(),
      activatedAt: created.toISOString(),
      refusal: { ...model.refusal, at: created.toISOString() },
    });
    expect(modelDetailSchema.safeParse({ ...wire, hashtagNames: undefined }).success).toBe(false);
  });

  it("reject a post in a state that does not exist", () => {
    const post = {
      id: "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f60",
      batchId: "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f61",
      seq: 0,
      externalId: null,
      takenAt: "2023-11-14T22:13:20.000Z",
      mediaUris: ["media/posts/202311/1.jpg"],
      kind: "post",
      state: "done",
      error: null,
      caption: "#travel",
      flags: [],
      labels: ["travel"],
      modelVersion: "m1",
      previousModelVersion: null,
      hashtags: [{ hashtag: "travel", score: 0.5, rank: 1, inCaption: true }],
    };
    expect(postDetailSchema.safeParse(post).success).toBe(true);
    expect(
      postDetailSchema.safeParse({ ...post, hashtags: [{ hashtag: "x", score: 1, rank: 1 }] }).success,
    ).toBe(false);
    expect(postDetailSchema.safeParse({ ...post, state: "lost" }).success).toBe(false);
  });
});

describe("training-run requests", () => {
  it("default to a run that is not forced, and refuse unknown options", () => {
    expect(createTrainingRunBodySchema.parse({})).toEqual({ force: false });
    expect(createTrainingRunBodySchema.parse({ force: true })).toEqual({ force: true });
    for (const body of [{ forced: true }, { force: "yes" }, null, []])
      expect(createTrainingRunBodySchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
  });

  it("page by a run id, 1 to 100 at a time", () => {
    const cursor = "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f60";
    expect(listTrainingRunsQuerySchema.parse({})).toEqual({ limit: 20 });
    expect(listTrainingRunsQuerySchema.parse({ cursor, limit: "100" })).toEqual({ cursor, limit: 100 });
    for (const query of [{ limit: "0" }, { limit: "101" }, { limit: "2.5" }, { cursor: "41" }])
      expect(listTrainingRunsQuerySchema.safeParse(query).success, JSON.stringify(query)).toBe(false);
  });
});

describe("training-run responses", () => {
  const created = new Date("2026-11-28T10:00:00.000Z");
  const run = {
    id: "2f1c8a52-3c1d-4c5e-9f3a-1b2c3d4e5f60",
    state: "skipped" as const,
    stage: "skip-check",
    modelVersionId: null,
    error: null,
    createdAt: created,
    startedAt: created,
    finishedAt: created,
  };

  it("take the gate's verdict or a skip as the decision, nothing else", () => {
    const gate = {
      promote: false,
      reason: "r",
      k: 2,
      margin: 0.01,
      candidate: { id: "c", f1: 0.4 },
      active: { id: "a", f1: 0.5 },
    };
    expect(trainingDecisionSchema.parse(gate)).toEqual(gate);
    expect(trainingDecisionSchema.parse({ ...gate, active: null })).toMatchObject({ active: null });
    const skip = { skipped: true, reason: "r", newPosts: 1, newLabels: 0 };
    expect(trainingDecisionSchema.parse(skip)).toEqual(skip);
    expect(trainingDecisionSchema.safeParse({ reason: "r" }).success).toBe(false);
    expect(trainingDecisionSchema.safeParse({ ...skip, skipped: false }).success).toBe(false);
  });

  it("encode a summary's timestamps, and a detail's with everything the run recorded", () => {
    const summary = { ...run, decision: { promote: false, reason: "too little new data" } };
    expect(z.encode(trainingRunSummarySchema, summary)).toEqual({
      ...summary,
      createdAt: created.toISOString(),
      startedAt: created.toISOString(),
      finishedAt: created.toISOString(),
    });
    const detail = {
      ...run,
      params: { force: false },
      datasetId: null,
      filterReport: null,
      metrics: {},
      decision: { skipped: true as const, reason: "too little new data", newPosts: 0, newLabels: 1 },
      timings: { start: 0.01, "skip-check": 0.02 },
      log: "training run\n== skip-check",
    };
    const wire = z.encode(trainingRunDetailSchema, detail);
    expect(trainingRunDetailSchema.parse(JSON.parse(JSON.stringify(wire)))).toEqual(detail);
    expect(trainingRunDetailSchema.safeParse({ ...wire, log: undefined }).success).toBe(false);
    expect(trainingRunDetailSchema.safeParse({ ...wire, state: "paused" }).success).toBe(false);
  });
});
