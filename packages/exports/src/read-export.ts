import { ExportError } from "./errors.js";
import type { ExportPost } from "./export-post.js";
import { parseMetaHtml } from "./meta-html.js";
import { parseLegacyMediaJson, parseMetaJson } from "./meta-json.js";
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

/** Finds the posts files across all parts, reads them in numeric order, returns every post record. */
export async function readExport(
  tree: ZipTree,
  options: ReadExportOptions,
): Promise<{ posts: ExportPost[]; files: string[] }> {
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
  // numeric, not lexical (posts_10 after posts_9); JSON before HTML when an export carries both
  found.sort(
    (a, b) =>
      a.order - b.order ||
      (a.format === b.format ? a.path.localeCompare(b.path) : a.format === "json" ? -1 : 1),
  );
  const hasJson = found.some((f) => f.format === "json");
  const posts: ExportPost[] = [];
  const files: string[] = [];
  for (const f of found) {
    if (hasJson && f.format === "html") continue;
    const text = (await tree.read(f.path)).toString("utf8");
    posts.push(
      ...(f.format === "json" ? parseMetaJson(text, f.path, f.kind) : parseMetaHtml(text, f.path, f.kind)),
    );
    files.push(f.path);
  }
  if (!found.length) {
    const legacy = tree.paths.find((p) => /(?:^|\/)media\.json$/.test(p));
    if (legacy) {
      const parsed = parseLegacyMediaJson((await tree.read(legacy)).toString("utf8"), legacy);
      if (parsed) return { posts: parsed, files: [legacy] };
    }
    throw new ExportError("no-posts-file", "no posts_N.json, posts_N.html or media.json found in any part");
  }
  return { posts, files };
}
