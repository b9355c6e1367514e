import { createHash } from "node:crypto";
import { imageObjectKey } from "@lxtag/contracts";
import type { NewMedia } from "@lxtag/db";
import type { ZipTree } from "@lxtag/exports";
import { Semaphore } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import { isImage, isVideo, MIME, sniffMediaType } from "@lxtag/vision";

export interface ReadMedia {
  media: NewMedia[];
  /** The first image: the one the detector sees (carousels record all media). */
  image: { sha256: string; key: string } | null;
  flags: string[];
  /**
   * Settles once `image` is in S3: its upload may still run when `read` resolves, so the post can be stored
   * meanwhile; its features job must wait for it. Rejects with the upload's error (handled: awaiting it is the
   * caller's choice).
   */
  stored: Promise<void>;
}

const MAX_MEDIA_BYTES = 64 * 2 ** 20;
/** Images larger than this are looked up in S3 before they are written (see `MediaReader.upload`). */
export const LOOKUP_ABOVE_BYTES = 2 ** 20;

export interface MediaReaderOptions {
  /** S3 requests (HEAD, PUT) in flight at once. @defaultValue 32 */
  s3Concurrency?: number;
  /**
   * Media bytes held in memory at once (read, being hashed or uploaded); a single larger file is read alone.
   * @defaultValue 64 MiB
   */
  maxBytesInFlight?: number;
}

/** What one archive entry holds, once read and hashed; its bytes are not kept. */
interface Entry {
  kind: NewMedia["kind"];
  mime: string;
  sha256: string;
  bytes: number;
}

/** S3 and archive work done so far (for logs and tests). */
export interface MediaReaderStats {
  /** Archive entries read (decompressed) and hashed. */
  reads: number;
  /** Images looked up in S3 (HEAD): those over `LOOKUP_ABOVE_BYTES`. */
  lookups: number;
  /** Images uploaded (PUT). */
  uploads: number;
}

/**
 * Reads posts' media from one batch's archive. Posts of an export often share files (one photo in several posts, a
 * carousel reposted), so each distinct archive path is read and hashed once, and each distinct image is looked up
 * and stored in S3 (content-addressed) once per batch, with bounded S3 concurrency and bounded bytes in memory.
 * What it keeps per distinct path is a few short strings, never the bytes.
 */
export class MediaReader {
  readonly stats: MediaReaderStats = { reads: 0, lookups: 0, uploads: 0 };
  private readonly paths = new Map<string, string | undefined>();
  private readonly entries = new Map<string, Promise<Entry>>();
  /** Images this batch has made sure are in S3, by hash: the per-batch set of known hashes. */
  private readonly stored = new Map<string, Promise<void>>();
  private readonly s3: Semaphore;
  private readonly memory: Semaphore;

  constructor(
    private readonly tree: ZipTree,
    private readonly store: ObjectStore,
    options: MediaReaderOptions = {},
  ) {
    this.s3 = new Semaphore(options.s3Concurrency ?? 32);
    this.memory = new Semaphore(options.maxBytesInFlight ?? 64 * 2 ** 20);
  }

  /**
   * A post's media: types and hashes, once read; its first image is stored in S3 content-addressed (`stored`
   * says when).
   */
  async read(uris: string[]): Promise<ReadMedia> {
    const media: NewMedia[] = [];
    const flags = new Set<string>();
    let image: ReadMedia["image"] = null;
    let stored: Promise<void> = Promise.resolve();
    if (uris.length > 1) flags.add("carousel");
    for (const [position, uri] of uris.entries()) {
      const path = this.resolve(uri);
      const absent = { position, uri, kind: "unknown", mime: null, sha256: null, objectKey: null } as const;
      if (!path) {
        flags.add("media-missing");
        media.push({ ...absent, present: false, bytes: null });
        continue;
      }
      if (this.tree.size(path) > MAX_MEDIA_BYTES) {
        flags.add("media-too-large");
        media.push({ ...absent, present: true, bytes: this.tree.size(path) });
        continue;
      }
      const entry = await this.entry(path, !image);
      if (entry.kind === "video") flags.add("video");
      if (entry.kind === "unknown") flags.add("unsupported-media");
      let objectKey: string | null = null;
      if (entry.kind === "image" && !image) {
        objectKey = imageObjectKey(entry.sha256);
        stored = this.ensureStored(path, entry.sha256, entry.mime);
        image = { sha256: entry.sha256, key: objectKey };
      }
      media.push({ position, uri, ...entry, present: true, objectKey });
    }
    if (!image) flags.add("caption-only");
    return { media, image, flags: [...flags], stored };
  }

  private resolve(uri: string): string | undefined {
    if (!this.paths.has(uri)) this.paths.set(uri, this.tree.resolve(uri));
    return this.paths.get(uri);
  }

  /**
   * The entry at `path`, read and hashed on first use; it resolves once hashed. When the first post to use it may
   * use it as its image (`mayStore`), an image is stored from the same read, its bytes held (in `memory`) until
   * the upload ends; otherwise `ensureStored` reads it again the one time a later post needs it stored.
   */
  private entry(path: string, mayStore: boolean): Promise<Entry> {
    let entry = this.entries.get(path);
    if (!entry) {
      entry = new Promise<Entry>((resolve, reject) => {
        this.memory
          .use(this.tree.size(path), async () => {
            const bytes = await this.tree.read(path, MAX_MEDIA_BYTES);
            this.stats.reads++;
            const type = sniffMediaType(bytes.subarray(0, 16));
            const kind = isImage(type) ? "image" : isVideo(type) ? "video" : "unknown";
            const sha256 = createHash("sha256").update(bytes).digest("hex");
            const found: Entry = { kind, mime: MIME[type], sha256, bytes: bytes.length };
            // an upload of its own needs no more memory than this read holds; one already under way (the same
            // image at another path) is the post's `stored`, outside this hold
            const upload =
              kind === "image" && mayStore && !this.stored.has(sha256)
                ? this.storeOnce(sha256, () => this.upload(sha256, bytes, found.mime))
                : undefined;
            resolve(found);
            await upload?.catch(() => {}); // the post's `stored` says how it went
          })
          .catch(reject);
      });
      entry.catch(() => {}); // awaited by every post that uses it; a failure fails the ingest there
      this.entries.set(path, entry);
    }
    return entry;
  }

  /** The image's upload: the one under way or done, else a new one from a second read. */
  private ensureStored(path: string, sha256: string, mime: string): Promise<void> {
    return this.storeOnce(sha256, () =>
      this.memory.use(this.tree.size(path), async () => {
        const bytes = await this.tree.read(path, MAX_MEDIA_BYTES);
        this.stats.reads++;
        await this.upload(sha256, bytes, mime);
      }),
    );
  }

  private storeOnce(sha256: string, store: () => Promise<void>): Promise<void> {
    let done = this.stored.get(sha256);
    if (!done) {
      done = store();
      done.catch(() => {}); // as for entries
      this.stored.set(sha256, done);
    }
    return done;
  }

  /**
   * One request per distinct image of the batch, at most two. The key is content-addressed, so writing it again
   * changes nothing: a photo-sized image is written outright, as a lookup costs the server about what the write
   * does; a larger one (a video frame, a scan) is looked up first, as another batch may have stored it.
   */
  private upload(sha256: string, bytes: Buffer, mime: string): Promise<void> {
    const key = imageObjectKey(sha256);
    return this.s3.use(1, async () => {
      if (bytes.length > LOOKUP_ABOVE_BYTES) {
        this.stats.lookups++;
        if (await this.store.exists(key)) return;
      }
      this.stats.uploads++;
      await this.store.put(key, bytes, mime, sha256); // hashed once, when read
    });
  }
}
