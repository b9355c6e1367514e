import { createHash } from "node:crypto";
import { MAX_CAPTION_CHARS } from "@lxtag/contracts";
import type { NewMedia, NewPost } from "@lxtag/db";
import { extractHashtags, modelText } from "@lxtag/text";

export interface PostInput {
  seq: number;
  externalId?: string | null;
  kind?: string;
  sourceFile?: string | null;
  caption: string;
  takenAt?: string | null;
  takenAtRaw?: string | null;
  media?: NewMedia[];
  flags?: string[];
  image: { key: string; sha256: string | null } | null;
  /** Why the post fails although it could be read (e.g. an image it may not use); it stays in the dedup key. */
  failReason?: string;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** Postgres text cannot hold NUL, and no caption, path or id means anything by one: it is dropped. */
const storable = (s: string) => (s.includes("\u0000") ? s.replaceAll("\u0000", "") : s);
const storableOrNull = (s: string | null | undefined) => (s == null ? null : storable(s));

/**
 * What makes two records without an external id the same post: caption, image (its bytes when read, else its
 * reference), the export's timestamp and media URIs. Posts of one export that differ only in their timestamp (a
 * photo posted twice with one caption) stay two posts; a record listed twice (the same post in two files or parts)
 * is one. A refused image is not used, but a post that names it is not the same post as one without an image.
 */
function identity(caption: string, input: PostInput): string {
  const uris = (input.media ?? []).map((m) => m.uri);
  const image = input.image?.sha256 ?? input.image?.key ?? "";
  const takenAt = input.takenAt ?? input.takenAtRaw ?? "";
  return [caption, image, takenAt, uris.join("|"), input.failReason ?? ""].join("\0");
}

/** Caption cleaning, hashtag labels, validation and the dedup key: one rule for zip and JSON batches. */
export function buildPost(read: PostInput): NewPost {
  const input: PostInput = {
    ...read,
    externalId: storableOrNull(read.externalId),
    sourceFile: storableOrNull(read.sourceFile),
    takenAtRaw: storableOrNull(read.takenAtRaw),
    media: read.media?.map((m) => ({ ...m, uri: storable(m.uri) })),
  };
  const caption = storable(input.caption).normalize("NFC").replace(/\r\n?/g, "\n");
  const flags = new Set(input.flags ?? []);
  let failReason = input.failReason ?? null;
  const text = caption.length > MAX_CAPTION_CHARS ? "" : modelText(caption);
  if (!failReason && caption.length > MAX_CAPTION_CHARS)
    failReason = `caption-too-long: ${caption.length} characters (limit ${MAX_CAPTION_CHARS})`;
  if (!caption.trim()) flags.add("empty-caption");
  if (!input.image) flags.add("caption-only");
  if (!failReason && !text && !input.image) failReason = "empty-post: no caption text and no usable image";
  const dedupKey = input.externalId ? `ext:${input.externalId}` : sha(identity(caption, input));
  return {
    seq: input.seq,
    externalId: input.externalId ?? null,
    dedupKey,
    kind: input.kind ?? "post",
    sourceFile: input.sourceFile ?? null,
    caption: caption.slice(0, MAX_CAPTION_CHARS),
    modelText: text,
    takenAt: input.takenAt ?? null,
    takenAtRaw: input.takenAtRaw ?? null,
    flags: [...flags],
    imageKey: input.image?.key ?? null,
    imageSha256: input.image?.sha256 ?? null,
    media: input.media ?? [],
    hashtags: failReason ? [] : extractHashtags(caption),
    failReason,
  };
}

/** A post that could not even be read (wrong field types): stored failed, with the reason. */
export function malformedPost(seq: number, reason: string): NewPost {
  return {
    ...buildPost({ seq, caption: "", image: null }),
    dedupKey: `malformed:${seq}`,
    flags: [],
    failReason: reason,
  };
}
