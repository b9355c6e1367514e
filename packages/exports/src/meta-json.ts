import { fixMetaJson } from "@lxtag/text";
import { ExportError } from "./errors.js";
import type { ExportPost } from "./export-post.js";
import {
  countJsonItems,
  JSON_MAX_DEPTH,
  type JsonItem,
  type JsonItemsOptions,
  jsonItemGroups,
  nestsTooDeep,
} from "./json-items.js";

/** Keys of a top-level object whose array holds posts of another kind. */
const WRAPPERS = new Map<string, ExportPost["kind"]>([
  ["ig_reels_media", "reel"],
  ["ig_archived_post_media", "archived"],
]);

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

/**
 * A date as ISO 8601, or null when it is none or outside years 1 to 9999: what Postgres' timestamps and ISO's
 * four-digit years hold (`toISOString` throws beyond JavaScript's range, and writes six-digit years past 9999).
 */
function isoDate(date: Date): string | null {
  const year = date.getUTCFullYear();
  return Number.isNaN(year) || year < 1 || year > 9999 ? null : date.toISOString();
}

/** A Unix time in seconds (Meta's `creation_timestamp`) as ISO 8601, or null. */
const iso = (v: unknown) =>
  typeof v === "number" && Number.isFinite(v) ? isoDate(new Date(v * 1000)) : null;

/** JSON.parse, with the file named in the error the batch fails with; nesting as deep as the streamed files'. */
function parseJsonFile(text: string, sourceFile: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ExportError(
      "invalid-json",
      `${sourceFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  // the mojibake repair recurses
  if (nestsTooDeep(value))
    throw new ExportError(
      "invalid-json",
      `${sourceFile}: a value nested deeper than ${JSON_MAX_DEPTH} levels`,
    );
  return value;
}

/**
 * Where a Meta DYI JSON posts file holds its posts: a top-level array, or an object whose wrapper key (reels,
 * archived posts) holds one, or a bare post object (as in one donated fixture).
 */
const metaJsonItems = (sourceFile: string): JsonItemsOptions => ({
  name: sourceFile,
  wrappers: [...WRAPPERS.keys()],
  itemKey: "media",
  expected: `an array of posts (or an object whose ${[...WRAPPERS.keys()].join(" or ")} holds one)`,
});

/** One record of a Meta DYI JSON posts file as a post; mojibake repaired. */
function metaJsonPost(
  item: JsonItem,
  index: number,
  sourceFile: string,
  kind: ExportPost["kind"],
): ExportPost {
  const post = fixMetaJson(item.value) as MetaPost;
  const media = Array.isArray(post?.media) ? post.media : [];
  // caption: post title when non-empty (carousels), else the first non-empty media title (classic single posts)
  const caption = str(post?.title) || media.map((m) => str(m?.title)).find((t) => t) || "";
  return {
    source: "meta-json",
    sourceFile: `${sourceFile}#${index}`,
    kind: (item.wrapper && WRAPPERS.get(item.wrapper)) || kind,
    takenAt: iso(post?.creation_timestamp) ?? iso(media[0]?.creation_timestamp),
    takenAtRaw: null,
    caption,
    mediaUris: media.map((m) => str(m?.uri)).filter(Boolean),
  };
}

/** The posts of a Meta DYI JSON posts file read as a stream, in groups (see `jsonItemGroups`). */
export async function* streamMetaJson(
  bytes: AsyncIterable<Buffer | Uint8Array>,
  sourceFile: string,
  kind: ExportPost["kind"],
): AsyncGenerator<ExportPost[]> {
  let i = 0;
  for await (const items of jsonItemGroups(bytes, metaJsonItems(sourceFile)))
    yield items.map((item) => metaJsonPost(item, i++, sourceFile, kind));
}

/** How many posts `streamMetaJson` yields; every syntax error and refusal is found here, before any post is used. */
export function countMetaJson(
  bytes: AsyncIterable<Buffer | Uint8Array>,
  sourceFile: string,
): Promise<number> {
  return countJsonItems(bytes, metaJsonItems(sourceFile));
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
      takenAt: isoDate(new Date(str(item.taken_at))),
      takenAtRaw: str(item.taken_at) || null,
      caption: str(item.caption),
      mediaUris: [],
    };
    if (str(item.path)) post.mediaUris.push(str(item.path));
    groups.set(key, post);
  }
  return [...groups.values()];
}
