import type { PostResult } from "@lxtag/db";

export const CSV_HEADER =
  "post_id,external_id,seq,taken_at,media_uris,state,error,rank,hashtag,score,in_caption,model_version\n";
/** Between a post's media URIs in their one cell (Instagram's URIs are paths without it). */
export const MEDIA_URI_SEPARATOR = "|";

/**
 * One CSV cell. RFC 4180: a cell holding a quote, comma or line break is quoted, its quotes doubled. And a text
 * that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return: an
 * external id, a reviewer's label or name, all written by clients) gets a leading `'`, as OWASP advises against
 * CSV injection; numbers stay numbers.
 */
export const csvCell = (v: unknown) => {
  let s = v === null || v === undefined ? "" : String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * One CSV row per ranked hashtag (one row with empty hashtag columns for posts without predictions); each row
 * carries the post's identity in its export: position, timestamp and media URIs.
 */
export function toCsv(post: PostResult): string {
  const base = [
    post.id,
    post.externalId,
    post.seq,
    post.takenAt?.toISOString(),
    post.mediaUris.join(MEDIA_URI_SEPARATOR),
    post.state,
    post.error,
  ];
  const row = (cells: unknown[]) => `${cells.map(csvCell).join(",")}\n`;
  if (!post.hashtags.length) return row([...base, "", "", "", "", post.modelVersion]);
  return post.hashtags
    .map((h) => row([...base, h.rank, h.hashtag, h.score, h.inCaption, post.modelVersion]))
    .join("");
}
