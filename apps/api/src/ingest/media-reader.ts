import { createHash } from "node:crypto";
import type { NewMedia } from "@lxtag/db";
import type { ZipTree } from "@lxtag/exports";
import type { ObjectStore } from "@lxtag/storage";
import { isImage, isVideo, MIME, sniffMediaType } from "@lxtag/vision";

export const imageKey = (sha256: string) => `images/${sha256}`;

export interface ReadMedia {
  media: NewMedia[];
  /** The first image: the one the detector sees (carousels record all media). */
  image: { sha256: string; key: string } | null;
  flags: string[];
}

const MAX_MEDIA_BYTES = 64 * 2 ** 20;

/** Reads a post's media from the archive: sniffs types, hashes, stores the first image content-addressed. */
export async function readPostMedia(tree: ZipTree, store: ObjectStore, uris: string[]): Promise<ReadMedia> {
  const media: NewMedia[] = [];
  const flags = new Set<string>();
  let image: ReadMedia["image"] = null;
  if (uris.length > 1) flags.add("carousel");
  for (const [position, uri] of uris.entries()) {
    const path = tree.resolve(uri);
    if (!path) {
      flags.add("media-missing");
      media.push({
        position,
        uri,
        kind: "unknown",
        mime: null,
        present: false,
        sha256: null,
        objectKey: null,
        bytes: null,
      });
      continue;
    }
    if (tree.size(path) > MAX_MEDIA_BYTES) {
      flags.add("media-too-large");
      media.push({
        position,
        uri,
        kind: "unknown",
        mime: null,
        present: true,
        sha256: null,
        objectKey: null,
        bytes: tree.size(path),
      });
      continue;
    }
    const bytes = await tree.read(path, MAX_MEDIA_BYTES);
    const type = sniffMediaType(bytes.subarray(0, 16));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const kind = isImage(type) ? "image" : isVideo(type) ? "video" : "unknown";
    if (kind === "video") flags.add("video");
    if (kind === "unknown") flags.add("unsupported-media");
    let objectKey: string | null = null;
    if (kind === "image" && !image) {
      objectKey = imageKey(sha256);
      if (!(await store.exists(objectKey))) await store.put(objectKey, bytes, MIME[type]);
      image = { sha256, key: objectKey };
    }
    media.push({
      position,
      uri,
      kind,
      mime: MIME[type],
      present: true,
      sha256,
      objectKey,
      bytes: bytes.length,
    });
  }
  if (!image) flags.add("caption-only");
  return { media, image, flags: [...flags] };
}
