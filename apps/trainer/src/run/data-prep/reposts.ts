import { type DataFilter, filterSplits, type Labeled } from "../filters.js";
import { SPLIT_NAMES } from "../split.js";
import type { RepostMode } from "./presets.js";

/** What re-post removal reads of a post. */
export interface Repostable extends Labeled {
  /** The model text. */
  text: string;
  imageSha256: string | null;
  /** When it was published, when the export said. */
  takenAt: Date | null;
  /** When lxtag stored it. */
  createdAt: Date;
}

/** The caption as re-posts are compared: the model text lower-cased, whitespace collapsed. */
export const normalizedCaption = (text: string) => text.toLowerCase().replace(/\s+/g, " ").trim();

// earliest first: the publication time where the export has one, else when lxtag stored the post; then the id
const when = (p: Repostable) => (p.takenAt ?? p.createdAt).getTime();
const earliestFirst = (a: Repostable, b: Repostable) =>
  when(a) - when(b) ||
  a.createdAt.getTime() - b.createdAt.getTime() ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const NOTES: Record<RepostMode, string> = {
  off: "off",
  caption: "same caption (lower-case, spaces collapsed); the earliest kept",
  image: "same image; the earliest kept",
  "image-or-caption": "same image or same caption (lower-case, spaces collapsed); the earliest kept",
};

/**
 * Re-posts removed, the earliest post kept, over all splits. A post is a re-post when it shares its image (sha256)
 * or its normalized caption, as `mode` says, with an earlier one, directly or through another re-post. Empty
 * captions never match: posts without words are not the same post.
 */
export const removeReposts = (mode: RepostMode, origin = ""): DataFilter<Repostable> => ({
  name: "reposts",
  remedy: "set LXTAG_TRAIN_DEDUP_REPOSTS=off (or caption, image)",
  apply(state) {
    const note = `${NOTES[mode]}${origin}`;
    if (mode === "off") return { ...state, note };
    const byImage = mode !== "caption";
    const byCaption = mode !== "image";
    const seen = new Set<string>();
    const reposts = new Set<string>();
    for (const post of SPLIT_NAMES.flatMap((s) => state.splits[s]).sort(earliestFirst)) {
      const caption = normalizedCaption(post.text);
      const keys = [
        ...(byImage && post.imageSha256 ? [`image:${post.imageSha256}`] : []),
        ...(byCaption && caption ? [`caption:${caption}`] : []),
      ];
      if (keys.some((k) => seen.has(k))) reposts.add(post.id);
      for (const k of keys) seen.add(k);
    }
    return { ...state, splits: filterSplits(state.splits, (p) => !reposts.has(p.id)), note };
  },
});
