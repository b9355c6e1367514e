// Rows written straight through the repositories, for routes that read what the workers produce.
import { randomUUID } from "node:crypto";
import { CURRENT_DETECTOR_KEY, modelManifestSchema } from "@lxtag/contracts";
import { type NewPost, postId } from "@lxtag/db";
import type { ObjectStore } from "@lxtag/storage";
import type { ApiDeps } from "../deps.js";
import { buildPost, malformedPost } from "../ingest/post-builder.js";
import type { TestApi } from "./harness.js";

/** The serving detector of the tests' own bucket (`publishTestDetector`). */
export const TEST_DETECTOR = "test-detector";

/**
 * Registers a model version with two hashtags, for `detector` (deleted when the test app closes); returns its id.
 */
export async function seedModel(
  { deps, modelIds }: Pick<TestApi, "deps" | "modelIds">,
  { detector = TEST_DETECTOR }: { detector?: string } = {},
): Promise<string> {
  const manifest = modelManifestSchema.parse({
    format: "lxtag-model/1",
    id: `test-model-${randomUUID()}`,
    architecture: "lxmert4hashtag",
    config: {},
    hashtags: ["travel", "food"],
    max_length: 128,
    detector,
    metrics: { "f1@2": 0.5 },
    dataset: { id: "test-dataset", posts: 2 },
    created_at: new Date().toISOString(),
    files: {},
  });
  const row = await deps.repos.models.register(manifest, `models/${manifest.id}/`);
  modelIds.push(row.id);
  return row.id;
}

export interface SeededBatch {
  batchId: string;
  /** Post ids in `seq` order: done (ranked travel, food), done (no hashtags), failed. */
  postIds: [string, string, string];
}

/** A label batch's results as the workers leave them: two posts predicted, one failed, ingest finished. */
export async function seedBatch(deps: ApiDeps, apiKeyId: string, modelId: string): Promise<SeededBatch> {
  const batchId = randomUUID();
  await deps.repos.batches.create(
    batchId,
    apiKeyId,
    { type: "json", key: `uploads/${batchId}/posts.json` },
    {},
  );
  const posts: NewPost[] = [
    buildPost({ seq: 0, externalId: "ext,1", caption: 'Sunset, "golden"\nhour #Travel', image: null }),
    buildPost({ seq: 1, caption: "Lunch #food", image: null }),
    malformedPost(2, 'invalid-post: caption: bad, "quoted"\nsecond line'),
  ];
  await deps.repos.posts.insertMany(batchId, posts);
  const ids = posts.map((p) => postId(batchId, p.dedupKey)) as SeededBatch["postIds"];
  await deps.repos.posts.savePredictions(modelId, [
    {
      postId: ids[0],
      ranked: [
        { hashtag: "travel", score: 0.5 },
        { hashtag: "food", score: 0.25 },
      ],
    },
    { postId: ids[1], ranked: [] },
  ]);
  await deps.repos.batches.markIngested(batchId, ["1 post: media-missing"]);
  return { batchId, postIds: ids };
}

/** The first post of a seeded batch as the API answers it, less its ids: predicted by `modelId`. */
export function firstPostView(modelId: string) {
  return {
    seq: 0,
    externalId: "ext,1",
    takenAt: null,
    mediaUris: [],
    kind: "post",
    state: "done",
    error: null,
    caption: 'Sunset, "golden"\nhour #Travel',
    flags: ["caption-only"],
    labels: ["travel"],
    modelVersion: modelId,
    previousModelVersion: null,
    hashtags: [
      { hashtag: "travel", score: 0.5, rank: 1, inCaption: true },
      { hashtag: "food", score: 0.25, rank: 2, inCaption: false },
    ],
  };
}

/**
 * A bucket of the API tests' own whose `detectors/current.json` names TEST_DETECTOR: no process serves from it, and
 * every run writes the same object, so runs may overlap. Pass it as LXTAG_S3_BUCKET.
 */
export const TEST_DETECTOR_BUCKET = "lxtag-api-test";

export async function publishTestDetector(store: ObjectStore): Promise<void> {
  await store.ensureBucket();
  await store.put(CURRENT_DETECTOR_KEY, JSON.stringify({ id: TEST_DETECTOR }), "application/json");
}

/** Scores at k = 1..5, all `f1` (the shape the trainer stores; the values do not matter to the API). */
export function rankingScores(f1: number) {
  const at = {
    precision: f1,
    recall: f1,
    f1,
    accuracy: f1,
    macro_precision: f1,
    macro_recall: f1,
    macro_f1: f1,
  };
  return Object.fromEntries(["1", "2", "3", "4", "5"].map((k) => [k, at]));
}

/** What a finished run records, as the trainer's `runTraining` writes it: its candidate is `modelId`. */
export function doneRunFields(modelId: string) {
  return {
    datasetId: "test-dataset",
    modelVersionId: modelId,
    filterReport: {
      steps: [
        { filter: "labeled", in: 12, out: 10, note: "2 posts without labels" },
        { filter: "min-tag-count", in: 10, out: 9, hashtagsIn: 5, hashtagsOut: 2 },
      ],
      split: { train: 8, val: 2, test: 2 },
      kept: { train: 7, val: 1, test: 1 },
      hashtags: 2,
    },
    metrics: {
      evaluation: {
        split: "test",
        posts: 1,
        labels: 2,
        postsSha256: "ab".repeat(32),
        candidate: { id: modelId, metrics: rankingScores(0.6) },
        active: { id: "older-model", metrics: rankingScores(0.4) },
        popularity: { hashtags: ["travel", "food"], metrics: rankingScores(0.2) },
      },
      engine: { "f1@2": 0.55, epochs: 3 },
    },
    decision: {
      promote: true,
      reason:
        "candidate F1@2 0.6000 beats the active model's 0.4000 by more than 0.01 on the same 1 test posts",
      k: 2,
      margin: 0.01,
      candidate: { id: modelId, f1: 0.6 },
      active: { id: "older-model", f1: 0.4 },
    },
    timings: { start: 0.01, "skip-check": 0.02, labels: 0.5, train: 12.5, publish: 0.25 },
  } as const;
}

/** Sets a run's `created_at`, for lists whose order the test decides. */
export async function setRunCreatedAt(deps: ApiDeps, id: string, at: Date): Promise<void> {
  await deps.db.pool.query("UPDATE training_runs SET created_at = $2 WHERE id = $1", [id, at]);
}
