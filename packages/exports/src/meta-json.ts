import { fixMetaJson } from "@lxtag/text";
import { ExportError } from "./errors.js";
import type { ExportPost } from "./export-post.js";

const WRAPPERS: Record<string, ExportPost["kind"]> = {
  ig_reels_media: "reel",
  ig_archived_post_media: "archived",
};

interface MetaMedia {
  uri?: unknown;
  title?: unknown;
  creation_timestamp?: unknown;
}
interface MetaPost {
  media?: MetaMedia[];
  title?: unknown;
  creation_timestamp?: unknown;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");
const iso = (v: unknown) =>
  typeof v === "number" && Number.isFinite(v) ? new Date(v * 1000).toISOString() : null;

/** What a JSON value is, for a message: "null", "an object", "a string", ... */
const describe = (v: unknown) =>
  v === null ? "null" : typeof v === "object" ? "an object" : `a ${typeof v}`;

/** JSON.parse, with the file named in the error the batch fails with. */
function parseJsonFile(text: string, sourceFile: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ExportError(
      "invalid-json",
      `${sourceFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Meta DYI JSON: a posts array, or an object with one wrapper key (reels, archived posts). Mojibake repaired. */
export function parseMetaJson(text: string, sourceFile: string, kind: ExportPost["kind"]): ExportPost[] {
  const data = parseJsonFile(text, sourceFile);
  let items: unknown;
  if (Array.isArray(data)) items = data;
  else if (data && typeof data === "object") {
    const key = Object.keys(data).find((k) => k in WRAPPERS);
    if (key) {
      kind = WRAPPERS[key]!;
      items = (data as Record<string, unknown>)[key] ?? [];
    } else if ("media" in data) items = [data]; // a bare post object, as in one donated fixture
  }
  if (!Array.isArray(items))
    throw new ExportError(
      "invalid-posts-file",
      `${sourceFile}: expected an array of posts (or an object whose ${Object.keys(WRAPPERS).join(" or ")} holds one), found ${describe(items ?? data)}`,
    );
  const posts: ExportPost[] = [];
  items.forEach((raw, i) => {
    const post = fixMetaJson(raw) as MetaPost;
    const media = Array.isArray(post?.media) ? post.media : [];
    // caption: post title when non-empty (carousels), else the first non-empty media title (classic single posts)
    const caption = str(post?.title) || media.map((m) => str(m?.title)).find((t) => t) || "";
    posts.push({
      source: "meta-json",
      sourceFile: `${sourceFile}#${i}`,
      kind,
      takenAt: iso(post?.creation_timestamp) ?? iso(media[0]?.creation_timestamp),
      takenAtRaw: null,
      caption,
      mediaUris: media.map((m) => str(m?.uri)).filter(Boolean),
    });
  });
  return posts;
}

/** Legacy root `media.json` (up to 2020): photos/videos arrays, one entry per image; carousels regrouped. */
export function parseLegacyMediaJson(text: string, sourceFile: string): ExportPost[] | null {
  const data = parseJsonFile(text, sourceFile) as { photos?: unknown[]; videos?: unknown[] };
  if (!data || typeof data !== "object" || (!Array.isArray(data.photos) && !Array.isArray(data.videos)))
    return null;
  const groups = new Map<string, ExportPost>();
  for (const raw of [...(data.photos ?? []), ...(data.videos ?? [])]) {
    const item = fixMetaJson(raw) as { caption?: unknown; taken_at?: unknown; path?: unknown };
    const key = `${str(item.taken_at)}\0${str(item.caption)}`;
    const post = groups.get(key) ?? {
      source: "meta-legacy-media-json" as const,
      sourceFile: `${sourceFile}#${groups.size}`,
      kind: "post" as const,
      takenAt: Number.isNaN(Date.parse(str(item.taken_at)))
        ? null
        : new Date(str(item.taken_at)).toISOString(),
      takenAtRaw: str(item.taken_at) || null,
      caption: str(item.caption),
      mediaUris: [],
    };
    if (str(item.path)) post.mediaUris.push(str(item.path));
    groups.set(key, post);
  }
  return [...groups.values()];
}
