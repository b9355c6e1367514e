// Labeled posts as the pipeline leaves them, for training-run tests: posts in a batch with caption hashtags,
// featurized (or not), and RoI objects in S3 for a detector of the test's own.
import { createHash, randomUUID } from "node:crypto";
import { FEATURE_DIM, NUM_BOXES, roiCacheKey } from "@lxtag/contracts";
import type { NewPost, Repositories } from "@lxtag/db";
import { examplePost } from "@lxtag/db/testing";
import { encodeRoi, type ObjectStore } from "@lxtag/storage";
import { extractHashtags, modelText } from "@lxtag/text";

/** Four scenes, each with its words and hashtags; its RoI features light up its own block of dimensions. */
export const SCENES = [
  { texts: ["a red sunset over the ocean", "golden light on the sea"], tags: ["sunset", "ocean"] },
  { texts: ["my dog at the park", "walking the puppy on the grass"], tags: ["dog", "park"] },
  { texts: ["coffee and croissants in paris", "morning espresso at the cafe"], tags: ["coffee", "paris"] },
  { texts: ["city lights at night", "the skyline downtown after dark"], tags: ["city", "night"] },
] as const;

export interface SeededPost {
  id: string;
  /** image: featurized, its RoI object stored; caption-only: no image; roi-missing: an image without an RoI object;
   * pending: not featurized yet. */
  kind: "image" | "caption-only" | "roi-missing" | "pending";
  scene: number;
  imageSha256: string | null;
  /** Caption hashtags. */
  hashtags: string[];
}

/** A deterministic generator, so a failing test fails again the same way. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One image's RoI object: the scene's block of 64 feature dimensions set in every box, plus noise. */
function sceneRoi(detectorId: string, scene: number, rand: () => number) {
  const features = new Float32Array(NUM_BOXES * FEATURE_DIM);
  for (let b = 0; b < NUM_BOXES; b++)
    for (let j = 0; j < FEATURE_DIM; j++)
      features[b * FEATURE_DIM + j] = (j >= scene * 64 && j < (scene + 1) * 64 ? 1 : 0) + rand() * 0.2;
  const boxes = Float32Array.from(
    { length: NUM_BOXES * 4 },
    (_, i) => (i % 4 < 2 ? 0.1 : 0.6) + rand() * 0.3,
  );
  const scores = Float32Array.from({ length: NUM_BOXES }, () => 0.5 + rand() * 0.5);
  return encodeRoi({
    detectorId,
    imageWidth: 256,
    imageHeight: 256,
    numRealBoxes: NUM_BOXES,
    features,
    boxes,
    scores,
  });
}

/**
 * A batch (with an API key of its own) of `images * postsPerImage` posts sharing images by threes (re-posts),
 * plus `captionOnly` posts without an image, `roiMissing` posts whose image has no RoI object and `pending` posts
 * not featurized yet. Every post has its scene's hashtags and, at random, `#love`. Posts are featurized (state
 * `predicting`, as on a fresh install where no model predicts yet), except the pending ones.
 */
export async function seedLabeledPosts(
  repos: Repositories,
  store: ObjectStore,
  options: {
    detectorId: string;
    images: number;
    postsPerImage?: number;
    captionOnly?: number;
    roiMissing?: number;
    pending?: number;
    allowTraining?: boolean;
    seed?: number;
  },
): Promise<{ batchId: string; posts: SeededPost[] }> {
  const rand = rng(options.seed ?? 1);
  const { id: apiKeyId } = await repos.apiKeys.create(`trainer-test-${randomUUID()}`);
  const batchId = randomUUID();
  const batchOptions = {
    includeReels: true,
    includeArchived: false,
    allowTraining: options.allowTraining ?? true,
  };
  await repos.batches.create(batchId, apiKeyId, { type: "json", key: "test" }, batchOptions);
  // image hashes follow the seed (their RoI objects are under the test's own detector id), so the split is too
  let images = 0;
  const newSha = () =>
    createHash("sha256")
      .update(`lxtag-test-image:${options.seed ?? 1}:${images++}`)
      .digest("hex");
  const specs: { kind: SeededPost["kind"]; scene: number; sha: string | null; ready: boolean }[] = [];
  for (let i = 0; i < options.images; i++) {
    const scene = i % SCENES.length;
    const sha = newSha();
    await store.put(roiCacheKey(options.detectorId, sha), sceneRoi(options.detectorId, scene, rand));
    for (let j = 0; j < (options.postsPerImage ?? 3); j++)
      specs.push({ kind: "image", scene, sha, ready: true });
  }
  const more = (n: number, spec: Omit<(typeof specs)[number], "scene">) => {
    // each its own image (or none)
    for (let i = 0; i < n; i++) specs.push({ ...spec, sha: spec.sha && newSha(), scene: i % SCENES.length });
  };
  more(options.captionOnly ?? 0, { kind: "caption-only", sha: null, ready: true });
  more(options.roiMissing ?? 0, { kind: "roi-missing", sha: newSha(), ready: true });
  more(options.pending ?? 0, { kind: "pending", sha: newSha(), ready: false });
  const posts: NewPost[] = specs.map((spec, seq) => {
    const scene = SCENES[spec.scene]!;
    const tags = [...scene.tags, ...(rand() < 0.4 ? ["love"] : [])];
    const caption = `${scene.texts[seq % 2]} ${seq}\n.\n${tags.map((t) => `#${t}`).join(" ")}`;
    return examplePost(seq, {
      caption,
      modelText: modelText(caption),
      flags: spec.sha ? [] : ["caption-only"],
      imageSha256: spec.sha,
      hashtags: extractHashtags(caption),
    });
  });
  const ids = await repos.posts.insertMany(batchId, posts);
  // as the feature worker leaves them (insertMany returns the new posts' ids in seq order)
  await Promise.all(
    ids.map((id, i) => (specs[i]!.ready ? repos.posts.markFeaturized(id, specs[i]!.sha) : null)),
  );
  return {
    batchId,
    posts: ids.map((id, i) => ({
      id,
      kind: specs[i]!.kind,
      scene: specs[i]!.scene,
      imageSha256: specs[i]!.sha,
      hashtags: posts[i]!.hashtags,
    })),
  };
}
