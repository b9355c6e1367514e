import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  batchOptionsSchema,
  batchSourceSchema,
  type FeatureJob,
  jobIds,
  jsonPostSchema,
} from "@lxtag/contracts";
import type { NewPost, Repositories } from "@lxtag/db";
import { ExportError, readExport, ZipTree } from "@lxtag/exports";
import { addBulkChunked, type Logger } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import { type Queue, UnrecoverableError } from "bullmq";
import { formatIssues } from "../errors.js";
import { foreignKeyReason } from "../services/upload-keys.js";
import { readPostMedia } from "./media-reader.js";
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

/** Post flags worth a batch-level warning. */
const WARN_FLAGS = new Set(["media-missing", "unsupported-media", "media-too-large"]);

export interface IngestDeps {
  repos: Repositories;
  store: ObjectStore;
  features: Queue<FeatureJob>;
  log: Logger;
  /** Posts per database transaction and per addBulk call. */
  chunkSize?: number;
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
  const chunkSize = deps.chunkSize ?? 1000;
  let total = 0;
  const flagged = new Map<string, number>();
  // Two-stage pipeline: while one chunk's jobs go to Redis, the next chunk is written to Postgres.
  let enqueuing: Promise<void> = Promise.resolve();
  const flush = async (posts: NewPost[]) => {
    for (const p of posts)
      for (const f of p.flags) if (WARN_FLAGS.has(f)) flagged.set(f, (flagged.get(f) ?? 0) + 1);
    const ids = await repos.posts.insertMany(batchId, posts);
    await enqueuing;
    enqueuing = addBulkChunked(
      deps.features,
      ids.map((postId) => ({
        name: "features",
        data: { batchId, postId },
        opts: { jobId: jobIds.features(postId) },
      })),
    );
    enqueuing.catch(() => {}); // handled: the next `await enqueuing` rethrows
    total += posts.length;
  };
  try {
    if (source.type === "json") {
      const raw: unknown = JSON.parse((await deps.store.get(source.key)).toString("utf8"));
      if (!Array.isArray(raw))
        throw new ExportError("invalid-posts-file", `${source.key}: expected an array of posts`);
      for (let i = 0; i < raw.length; i += chunkSize) {
        const chunk = raw.slice(i, i + chunkSize).map((item, j) => {
          const seq = i + j;
          const parsed = jsonPostSchema.safeParse(item);
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
        await flush(chunk);
      }
    } else {
      const dir = await mkdtemp(join(tmpdir(), "lxtag-ingest-"));
      let tree: ZipTree | undefined;
      try {
        const paths: string[] = [];
        for (const [i, key] of source.keys.entries()) {
          paths.push(join(dir, `part-${i}.zip`));
          await deps.store.download(key, paths[i]!);
        }
        tree = await ZipTree.open(paths);
        const { posts, files } = await readExport(tree, options);
        log.info({ batchId, files, posts: posts.length }, "export read");
        let chunk: NewPost[] = [];
        for (const [seq, post] of posts.entries()) {
          const media = await readPostMedia(tree, deps.store, post.mediaUris);
          if (!post.mediaUris.length) media.flags.push("no-media");
          chunk.push(
            buildPost({
              seq,
              kind: post.kind,
              sourceFile: post.sourceFile,
              caption: post.caption,
              takenAt: post.takenAt,
              takenAtRaw: post.takenAtRaw,
              media: media.media,
              flags: media.flags,
              image: media.image,
            }),
          );
          if (chunk.length >= chunkSize) {
            await flush(chunk);
            chunk = [];
          }
        }
        await flush(chunk);
      } finally {
        tree?.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
    await enqueuing;
  } catch (err) {
    if (err instanceof ExportError || err instanceof SyntaxError) {
      const message = err instanceof ExportError ? err.message : `invalid-json: ${err.message}`;
      log.warn({ batchId, err: message }, "batch rejected");
      await repos.batches.markFailed(batchId, message);
      return { posts: 0 };
    }
    throw err;
  }
  // the batch says what it could not see, e.g. media that sit in a zip part that was not uploaded
  const warnings = [...flagged].map(([flag, n]) => `${n} post${n === 1 ? "" : "s"}: ${flag}`);
  // `total` counts every record read: those beyond the distinct posts were merged into an identical one
  const posts = await repos.batches.markIngested(batchId, warnings, total);
  log.info({ batchId, records: total, posts }, "batch ingested");
  return { posts };
}
