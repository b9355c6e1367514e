import type { Multipart, MultipartFile } from "@fastify/multipart";
import { type BatchOptions, type BatchSource, batchOptionsSchema } from "@lxtag/contracts";
import type { Logger } from "@lxtag/runtime";
import type { FileBody, ObjectStore } from "@lxtag/storage";
import {
  InvalidJsonError,
  MissingUploadError,
  MixedUploadError,
  UploadTooLargeError,
  ValidationError,
} from "../errors.js";
import { uploadKey, uploadPrefix } from "./upload-keys.js";
import type { UploadSpool } from "./upload-spool.js";

export interface Upload {
  /** Zip parts, or one JSON file of posts. */
  source: BatchSource;
  /** What the upload wrote to S3. */
  keys: string[];
  options: BatchOptions;
}

/**
 * A file part that is a JSON file of posts rather than a zip part: by its type, or by its name when its type says
 * neither (curl sends `application/octet-stream` unless told).
 */
const isJsonPart = (part: MultipartFile) =>
  part.mimetype === "application/json" ||
  (part.mimetype !== "application/zip" && part.filename.toLowerCase().endsWith(".json"));

/** The `options` field: JSON text, or a value the multipart plugin parsed (a field sent as application/json). */
function parseOptions(value: unknown): BatchOptions {
  let raw = value;
  if (typeof value === "string") {
    try {
      raw = JSON.parse(value);
    } catch {
      throw new InvalidJsonError("options");
    }
  }
  const parsed = batchOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError("options", parsed.error.issues);
  return parsed.data;
}

export interface ReceiveUploadOptions {
  /** Largest zip part, bytes (the multipart plugin's `fileSize` limit). */
  maxPartBytes: number;
  /** Where a failed clean-up is reported (the parts it could not delete stay in S3). */
  log: Logger;
  /** Where each part is written before it goes to S3, for the ingest job to read on this host. */
  spool: UploadSpool;
}

/**
 * Receives every file part of a multipart upload into the spool (nothing is held whole in memory) and stores it in
 * S3 as `uploads/<apiKeyId>/<batchId>/part-<n>.zip`, one PUT per part from its local copy, while the next part
 * comes in (one PUT at a time: a part waits for the one before, and a failed PUT fails the upload there, before the
 * client sends the rest); reads the optional `options` field (JSON text of BatchOptions). Instead of zip parts, the
 * upload may be one JSON file of posts (`application/json`, or a name ending in `.json`), stored as
 * `posts.json`: what a JSON body's `posts` are, streamed rather than received whole, up to the part limit. The
 * fields may come in any order, so a bad `options` after a file part is found only once that part is received: an
 * upload that fails for any reason (bad options, a part over the limit, a client gone mid-stream, zip parts and a
 * JSON file together) deletes what it wrote, in S3 and in the spool.
 */
export async function receiveUpload(
  store: ObjectStore,
  target: { apiKeyId: string; batchId: string },
  parts: AsyncIterable<Multipart>,
  { maxPartBytes, log, spool }: ReceiveUploadOptions,
): Promise<Upload> {
  const keys: string[] = [];
  const stored: Promise<{ key: string; file: FileBody }>[] = [];
  let options = batchOptionsSchema.parse({});
  let json = false;
  try {
    try {
      for await (const part of parts) {
        if (part.type === "file") {
          const isJson = isJsonPart(part);
          if (keys.length && (isJson || json)) {
            part.file.resume(); // the rest of the request is read and dropped, so the answer reaches the client
            throw new MixedUploadError();
          }
          json = isJson;
          const name = json ? "posts.json" : `part-${keys.length + 1}.zip`;
          const key = uploadKey(target.apiKeyId, target.batchId, name);
          keys.push(key); // before the write: a part that fails half-way is deleted too
          const file = await spool.write(target.batchId, name, part.file);
          if (part.file.truncated) throw new UploadTooLargeError(part.filename, maxPartBytes);
          await stored.at(-1);
          const type = json ? "application/json" : "application/zip";
          const put = store.putFile(key, file, type).then(() => ({ key, file }));
          put.catch(() => {}); // awaited below, or settled before the clean-up
          stored.push(put);
        } else if (part.fieldname === "options") {
          options = parseOptions(part.value);
        }
      }
      if (!keys.length) throw new MissingUploadError();
      await spool.seal(target.batchId, await Promise.all(stored));
    } finally {
      // no PUT still under way once this returns or cleans up (it would write a part after its delete)
      await Promise.allSettled(stored);
    }
  } catch (err) {
    const cleanups = await Promise.allSettled([
      keys.length ? store.delete(keys) : Promise.resolve(),
      spool.remove(target.batchId),
    ]);
    // the request's own error is what the client needs; these are ours to see
    for (const [i, c] of cleanups.entries())
      if (c.status === "rejected")
        log.error(
          { batchId: target.batchId, keys, err: (c.reason as Error).message },
          i === 0
            ? "failed upload: its parts could not be deleted"
            : "failed upload: its local copy could not be removed",
        );
    throw err;
  }
  return { source: json ? { type: "json", key: keys[0]! } : { type: "zip", keys }, keys, options };
}

/**
 * Deletes whatever an upload of the batch wrote (`uploads/<apiKeyId>/<batchId>/`), listed from S3: what the
 * reconciler does with an upload no process is finishing any more.
 */
export async function discardUpload(
  store: ObjectStore,
  batch: { id: string; apiKeyId: string },
): Promise<void> {
  const keys = await store.list(`${uploadPrefix(batch.apiKeyId)}${batch.id}/`);
  if (keys.length) await store.delete(keys);
}
