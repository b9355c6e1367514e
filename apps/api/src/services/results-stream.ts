import { Readable } from "node:stream";
import type { ResultFormat } from "@lxtag/contracts";
import type { PostResult } from "@lxtag/db";
import { CSV_HEADER, toCsv } from "./results-csv.js";

export const RESULT_CONTENT_TYPES = {
  ndjson: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
} as const satisfies Record<ResultFormat, string>;

/** The format asked for: `format` if given, else CSV when the client accepts text/csv, else NDJSON. */
export const resultFormat = (format: ResultFormat | undefined, accept: string | undefined): ResultFormat =>
  format ?? (accept?.includes("text/csv") ? "csv" : "ndjson");

/** A batch's results as a stream of NDJSON lines or CSV rows; posts are read page by page as it is consumed. */
export function resultsStream(posts: AsyncIterable<PostResult>, format: ResultFormat): Readable {
  async function* lines() {
    if (format === "csv") yield CSV_HEADER;
    for await (const post of posts) yield format === "csv" ? toCsv(post) : `${JSON.stringify(post)}\n`;
  }
  return Readable.from(lines());
}
