import { ExportError } from "./errors.js";
import type { ExportPost } from "./export-post.js";
import { parseMetaHtml } from "./meta-html.js";
import { countMetaJson, parseLegacyMediaJson, streamMetaJson } from "./meta-json.js";
import type { ZipTree } from "./zip-tree.js";

export interface ReadExportOptions {
  /** Include reels.json. @defaultValue true */
  includeReels: boolean;
  /** Include archived_posts.json. @defaultValue false */
  includeArchived: boolean;
}

// posts_N / reels / archived_posts under content/ (2021-23), your_instagram_activity/content/ (2023-25) or
// your_instagram_activity/media/ (2025+), at any depth (re-zipped archives add a folder). Matching the folder
// keeps decoys such as your_instagram_activity/subscriptions/reels.json out.
const CONTENT_FILE =
  /(?:^|\/)(?:content|your_instagram_activity\/(?:content|media))\/(posts_(\d+)|reels|archived_posts)\.(json|html)$/;

interface Found {
  path: string;
  kind: ExportPost["kind"];
  order: number;
  format: "json" | "html";
}

/** The posts of an export: what was read, how many records, and the records themselves. */
export interface ExportContents {
  /** The posts files read, in reading order. */
  files: string[];
  /** How many records the files hold, counted (and every file checked) before any record is read. */
  records: number;
  /** The records in reading order; JSON posts files are streamed, never held whole. Each iteration reads afresh. */
  posts: AsyncIterable<ExportPost>;
}

/**
 * Finds the posts files across all parts and counts their records, checking every file whole: a syntax error or
 * a file without posts anywhere is thrown here, before any post is used. The posts then come file by file, in
 * numeric order.
 */
export async function readExport(tree: ZipTree, options: ReadExportOptions): Promise<ExportContents> {
  const found: Found[] = [];
  for (const path of tree.paths) {
    const m = CONTENT_FILE.exec(path);
    if (!m) continue;
    const kind = m[1]!.startsWith("posts_") ? "post" : m[1] === "reels" ? "reel" : "archived";
    if (kind === "reel" && !options.includeReels) continue;
    if (kind === "archived" && !options.includeArchived) continue;
    found.push({
      path,
      kind,
      order: m[2] ? Number(m[2]) : kind === "reel" ? 1e6 : 2e6,
      format: m[3] as "json" | "html",
    });
  }
  if (!found.length) {
    const legacy = tree.paths.find((p) => /(?:^|\/)media\.json$/.test(p));
    if (legacy) {
      // parsed whole, bounded by maxEntryBytes: its carousels are regrouped across the whole file
      const parsed = parseLegacyMediaJson((await tree.read(legacy)).toString("utf8"), legacy);
      if (parsed)
        return {
          files: [legacy],
          records: parsed.length,
          posts: { [Symbol.asyncIterator]: () => oneByOne([parsed]) },
        };
    }
    throw new ExportError("no-posts-file", "no posts_N.json, posts_N.html or media.json found in any part");
  }
  // numeric, not lexical (posts_10 after posts_9); JSON before HTML when an export carries both
  found.sort(
    (a, b) =>
      a.order - b.order ||
      (a.format === b.format ? a.path.localeCompare(b.path) : a.format === "json" ? -1 : 1),
  );
  const hasJson = found.some((f) => f.format === "json");
  const files = found.filter((f) => !(hasJson && f.format === "html"));
  let records = 0;
  for (const f of files)
    records +=
      f.format === "json"
        ? await countMetaJson(tree.stream(f.path, STREAMED), f.path)
        : (await readHtml(tree, f)).length;
  return {
    files: files.map((f) => f.path),
    records,
    posts: { [Symbol.asyncIterator]: () => oneByOne(postGroups(tree, files)) },
  };
}

/**
 * The size limit of a posts file read as a stream: none of its own (it is never held whole); the archive's limits
 * (total size, expansion ratio) and yauzl's check of each entry's declared size still bound it.
 */
const STREAMED = Number.MAX_SAFE_INTEGER;

/** The posts files' posts in groups: a JSON file's as it is streamed, an HTML file's at once. */
async function* postGroups(tree: ZipTree, files: Found[]): AsyncGenerator<ExportPost[]> {
  for (const f of files)
    if (f.format === "json") yield* streamMetaJson(tree.stream(f.path, STREAMED), f.path, f.kind);
    else yield await readHtml(tree, f);
}

/** An HTML posts file, parsed whole (bounded by maxEntryBytes): HTML exports are the old, small ones. */
async function readHtml(tree: ZipTree, f: Found): Promise<ExportPost[]> {
  return parseMetaHtml((await tree.read(f.path)).toString("utf8"), f.path, f.kind);
}

/** Groups handed on one item at a time; a plain loop, as `yield*` over an array costs an async step per item. */
async function* oneByOne<T>(groups: AsyncIterable<T[]> | Iterable<T[]>): AsyncGenerator<T> {
  for await (const group of groups) for (const item of group) yield item;
}
