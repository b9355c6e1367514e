import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchOptionsSchema, batchSourceSchema, type FeatureJob, jsonPostSchema } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { countJsonItems, ExportError, jsonItems, readExport, ZipTree } from "@lxtag/exports";
import type { Logger } from "@lxtag/runtime";
import { mapConcurrent } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import { type Queue, UnrecoverableError } from "bullmq";
import { formatIssues } from "../errors.js";
import { foreignKeyReason } from "../services/upload-keys.js";
import type { UploadSpool } from "../services/upload-spool.js";
import { ChunkWriter } from "./chunk-writer.js";
import { MediaReader, type MediaReaderOptions } from "./media-reader.js";
import { buildPost, malformedPost } from "./post-builder.js";

/** An image given as a URL: the feature worker decides which URLs it fetches (https, public addresses). */
const URL_IMAGE = /^https?:\/\//i;

/**
 * Why a JSON post may not use its image, or undefined. A reference that is not a URL is an S3 key, and only the
 * batch's own key's uploads may be read: never another key's upload, a content-addressed image or lxtag's own
 * objects (`detectors/current.json`).
 */
function imageRefusal(apiKeyId: string, ref: string): string | undefined {
  if (URL_IMAGE.test(ref)) return undefined;
  const reason = foreignKeyReason(apiKeyId, ref);
  return reason && `invalid-image: S3 key ${JSON.stringify(ref)} is ${reason}`;
}

/** An iterable's items in arrays of `size` (the last one shorter). */
async function* chunks<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

export interface IngestDeps {
  repos: Repositories;
  store: ObjectStore;
  /** The uploads received on this host: a batch's sources are read there when they are, not downloaded. */
  spool?: UploadSpool;
  features: Queue<FeatureJob>;
  log: Logger;
  /** Posts per database transaction and per addBulk call. @defaultValue 500 */
  chunkSize?: number;
  /** Posts whose media are read at once. @defaultValue 32 */
  mediaConcurrency?: number;
  /** S3 requests and memory of the media reader (see `MediaReaderOptions`). */
  media?: MediaReaderOptions;
}

/** Parses one uploaded batch, stores its posts, enqueues them for features. Safe to run twice. */
export async function runIngest(batchId: string, deps: IngestDeps): Promise<{ posts: number }> {
  const { repos, log } = deps;
  const batch = await repos.batches.find(batchId);
  // a batch refused after its job was queued (the API deletes it when the queue fails it): nothing to retry
  if (!batch) throw new UnrecoverableError(`batch ${batchId} not found`);
  if (batch.state === "processing" || batch.state === "done" || batch.state === "failed")
    return { posts: batch.totalPosts };
  await repos.batches.markIngesting(batchId);
  const source = batchSourceSchema.parse(batch.source);
  const options = batchOptionsSchema.parse(batch.options ?? {});
  const chunkSize = deps.chunkSize ?? 500;
  const writer = new ChunkWriter(batchId, repos, deps.features);
  let warnings: string[];
  // the source is read from files: the copies this host received (the upload spool), else downloaded to temporary
  // files first: one version of each object, read from disk at the reader's pace (an S3 response left unread while
  // chunks are written would time out), never held whole in memory
  const dir = await mkdtemp(join(tmpdir(), "lxtag-ingest-"));
  const localFiles = async (keys: string[]) => {
    const copies = await deps.spool?.copies(batchId, keys);
    if (copies) return copies;
    const paths = keys.map((_, i) => join(dir, `source-${i}`));
    // every download settled before a failure unwinds: none still writes while the folder is removed
    const downloads = await Promise.allSettled(keys.map((key, i) => deps.store.download(key, paths[i]!)));
    for (const d of downloads) if (d.status === "rejected") throw d.reason;
    return paths;
  };
  let tree: ZipTree | undefined;
  let media: MediaReader | undefined;
  try {
    if (source.type === "json") {
      // streamed twice: counted first (a syntax error anywhere fails the batch before any post is stored), then
      // read item by item
      const [path] = (await localFiles([source.key])) as [string];
      // a JSON body as it was sent, {posts: [...], options}, or an uploaded JSON file: that shape or an array
      const json = { name: source.key, expected: "an array of posts or {posts: [...]}", wrappers: ["posts"] };
      await writer.setTotal(await countJsonItems(createReadStream(path), json));
      let next = 0;
      for await (const items of chunks(jsonItems(createReadStream(path), json), chunkSize)) {
        const chunk = items.map(({ value }) => {
          const seq = next++;
          const parsed = jsonPostSchema.safeParse(value);
          if (!parsed.success)
            return malformedPost(seq, `invalid-post: ${formatIssues(parsed.error.issues, "post")}`);
          const p = parsed.data;
          const refused = p.image ? imageRefusal(batch.apiKeyId, p.image) : undefined;
          return buildPost({
            seq,
            externalId: p.externalId,
            caption: p.caption,
            image: p.image && !refused ? { key: p.image, sha256: null } : null,
            failReason: refused,
          });
        });
        await writer.write(chunk);
      }
    } else {
      // zip parts are read through their central directories, entry by entry
      tree = await ZipTree.open(await localFiles(source.keys));
      // the posts files are counted (and checked whole) first, then streamed: a syntax error fails the batch
      // before any post is stored
      const { posts, files, records } = await readExport(tree, options);
      log.info({ batchId, files, posts: records }, "export read");
      await writer.setTotal(records);
      const reader = new MediaReader(tree, deps.store, deps.media);
      media = reader;
      let i = 0;
      for await (const exported of chunks(posts, chunkSize)) {
        const uploads = new Set<Promise<void>>(); // the chunk's images on their way to S3 (posts share them)
        const chunk = await mapConcurrent(exported, deps.mediaConcurrency ?? 32, async (post, j) => {
          const read = await reader.read(post.mediaUris);
          uploads.add(read.stored);
          if (!post.mediaUris.length) read.flags.push("no-media");
          return buildPost({
            seq: i + j,
            kind: post.kind,
            sourceFile: post.sourceFile,
            caption: post.caption,
            takenAt: post.takenAt,
            takenAtRaw: post.takenAtRaw,
            media: read.media,
            flags: read.flags,
            image: read.image,
          });
        });
        await writer.write(chunk, Promise.all(uploads));
        i += chunk.length;
      }
    }
    warnings = await writer.finish();
    // once every upload has ended (the last chunks' jobs waited for theirs)
    if (media) log.info({ batchId, ...media.stats }, "export media read");
  } catch (err) {
    if (err instanceof ExportError || err instanceof SyntaxError) {
      const message = err instanceof ExportError ? err.message : `invalid-json: ${err.message}`;
      log.warn({ batchId, err: message }, "batch rejected");
      writer.abandon(); // stored chunks still waiting for their images get no jobs
      await repos.batches.markFailed(batchId, message);
      return { posts: 0 };
    }
    throw err;
  } finally {
    tree?.close();
    await rm(dir, { recursive: true, force: true });
    // a retry downloads what it needs; a copy that cannot be removed now is the sweep's
    await deps.spool
      ?.remove(batchId)
      .catch((err: Error) =>
        log.warn({ batchId, err: err.message }, "could not remove the upload's local copy"),
      );
  }
  // `records` counts every record read: those beyond the distinct posts were merged into an identical one
  const posts = await repos.batches.markIngested(batchId, warnings, writer.records);
  log.info({ batchId, records: writer.records, posts }, "batch ingested");
  return { posts };
}
