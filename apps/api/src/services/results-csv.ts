import type { PostResult } from "@lxtag/db";

export const CSV_HEADER = "post_id,external_id,state,error,rank,hashtag,score,model_version\n";

// RFC 4180: a cell holding a quote, comma or line break is quoted, its quotes doubled
const cell = (v: unknown) => {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One CSV row per ranked hashtag (one row with empty hashtag columns for posts without predictions). */
export function toCsv(post: PostResult): string {
  const base = [post.id, post.externalId, post.state, post.error];
  if (!post.hashtags.length) return `${[...base, "", "", "", post.modelVersion].map(cell).join(",")}\n`;
  return post.hashtags
    .map((h) => `${[...base, h.rank, h.hashtag, h.score, post.modelVersion].map(cell).join(",")}\n`)
    .join("");
}
