import { Readable } from "node:stream";
import type { LabelRow } from "@lxtag/db";
import { csvCell } from "./results-csv.js";

export const LABELS_CSV_HEADER = "post_id,external_id,seq,hashtag,action,reviewer,labeled_at\n";

/** A batch's human corrections as CSV, one row per post and hashtag: `add` or `remove`, by whom, when. */
export function labelsCsv(rows: AsyncIterable<LabelRow>): Readable {
  async function* lines() {
    yield LABELS_CSV_HEADER;
    for await (const r of rows)
      yield `${[r.postId, r.externalId, r.seq, r.hashtag, r.positive ? "add" : "remove", r.reviewer, r.createdAt.toISOString()].map(csvCell).join(",")}\n`;
  }
  return Readable.from(lines());
}
