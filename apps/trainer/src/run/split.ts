import { createHash } from "node:crypto";

export type SplitName = "train" | "val" | "test";
export const SPLIT_NAMES: readonly SplitName[] = ["train", "val", "test"];
export type Splits<T> = Record<SplitName, T[]>;

/** Versioned, so a future change of the rule changes every assignment knowingly, never a few by accident. */
const SALT = "lxtag-split/1\0";

/** What decides a post's split: its image when it has one, else its id. */
export interface Splittable {
  id: string;
  imageSha256: string | null;
}

/**
 * train : val : test = 8 : 1 : 1 by a hash, so a post keeps its split in every run (a model is never tested on
 * posts an earlier model trained on). Posts with an image are hashed by the image's sha256, not their id: posts
 * sharing an image (re-uploads, the same photo in two exports) land in one split, whenever the second one arrives.
 */
export function splitOf(post: Splittable): SplitName {
  const h = createHash("sha256")
    .update(SALT + (post.imageSha256 ?? post.id))
    .digest()
    .readUInt32BE(0);
  const u = h / 2 ** 32; // [0, 1)
  return u < 0.8 ? "train" : u < 0.9 ? "val" : "test";
}

/** The posts by split, each split in the input's order. */
export function splitExamples<T extends Splittable>(posts: readonly T[]): Splits<T> {
  const splits: Splits<T> = { train: [], val: [], test: [] };
  for (const post of posts) splits[splitOf(post)].push(post);
  return splits;
}

export const splitSizes = <T>(splits: Splits<T>) => ({
  train: splits.train.length,
  val: splits.val.length,
  test: splits.test.length,
});
