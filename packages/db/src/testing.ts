import type { NewPost } from "./posts.js";

/**
 * A post as ingest stores one with nothing but a caption (`post <seq>`): `post-<seq>` as its dedup key, no media,
 * flags or hashtags; `fields` override any of it. For tests and benchmarks (`@lxtag/db/testing`).
 */
export function examplePost(seq: number, fields: Partial<NewPost> = {}): NewPost {
  const caption = fields.caption ?? `post ${seq}`;
  return {
    seq,
    externalId: null,
    dedupKey: `post-${seq}`,
    kind: "post",
    sourceFile: null,
    caption,
    modelText: caption,
    takenAt: null,
    takenAtRaw: null,
    flags: [],
    imageKey: null,
    imageSha256: null,
    media: [],
    hashtags: [],
    failReason: null,
    ...fields,
  };
}
