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
    kind: "post",
    state: "done",
    error: null,
    caption: 'Sunset, "golden"\nhour #Travel',
    flags: ["caption-only"],
    labels: ["travel"],
    modelVersion: modelId,
    hashtags: [
      { hashtag: "travel", score: 0.5, rank: 1 },
      { hashtag: "food", score: 0.25, rank: 2 },
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
