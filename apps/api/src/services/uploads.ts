import { open } from "node:fs/promises";
import type { Multipart, MultipartFile } from "@fastify/multipart";
import { type BatchOptions, type BatchSource, batchOptionsSchema } from "@lxtag/contracts";
import type { Logger } from "@lxtag/runtime";
import type { FileBody, ObjectStore } from "@lxtag/storage";
import {
  InvalidJsonError,
  MalformedUploadError,
  MissingUploadError,
  MixedUploadError,
  UploadTooLargeError,
  ValidationError,
} from "../errors.js";
import { POSTS_JSON, uploadKey, uploadPrefix } from "./upload-keys.js";
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
 * neither (curl sends `application/octet-stream` unless told; a part may come without a name).
 */
const isJsonPart = (part: MultipartFile) =>
  part.mimetype === "application/json" ||
  (part.mimetype !== "application/zip" && (part.filename ?? "").toLowerCase().endsWith(".json"));

/**
 * Why a file sent as JSON cannot be a JSON document of posts, by its first bytes (past whitespace and a byte-order
 * mark), or undefined when it starts as one (`[` or `{`): a zip archive sent with a .json name or type is refused
 * before the batch is made, rather than failing its ingest.
 */
async function notJsonReason(path: string): Promise<string | undefined> {
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(1024), 0, 1024, 0);
    const head = buffer.subarray(0, bytesRead);
    if (head.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1")))
      return "it is a zip archive (zip parts go as application/zip, or with a name ending in .zip)";
    const first = head.toString("utf8").replace(/^\uFEFF?[ \t\r\n]*/, "")[0];
    if (first === "[" || first === "{") return undefined;
    // 1 KiB of whitespace and more to come: the ingest's reader judges the rest
    if (first === undefined) return bytesRead === buffer.length ? undefined : "it is empty";
    return `it starts with ${JSON.stringify(first)}`;
  } finally {
    await file.close();
  }
}

/**
 * The parts as the multipart parser yields them, its own errors (a body cut short, no boundary, a broken part
 * header: plain errors without a status) turned into the client's `MalformedUploadError`. The plugin's errors
 * that carry a status (a field declared as JSON that does not parse) pass as they are.
 */
async function* clientParts(parts: AsyncIterable<Multipart>): AsyncGenerator<Multipart> {
  const iterator = parts[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Multipart>;
    try {
      next = await iterator.next();
    } catch (err) {
      throw malformed(err);
    }
    if (next.done) return;
    yield next.value;
  }
}

/** A parser error as the client's mistake; anything with a status or a system error code stays what it is. */
function malformed(err: unknown): unknown {
  const { statusCode, code } = err as { statusCode?: unknown; code?: unknown };
  return err instanceof Error && statusCode === undefined && code === undefined
    ? new MalformedUploadError(err.message)
    : err;
}

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
  /** Largest file part (a zip part, a JSON file of posts), bytes (the multipart plugin's `fileSize` limit). */
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
  let jsonUpload = false;
  try {
    try {
      for await (const part of clientParts(parts)) {
        if (part.type === "file") {
          const isJson = isJsonPart(part);
          if (keys.length && (isJson || jsonUpload)) {
            part.file.resume(); // this part's bytes are dropped; the answer goes out before the rest is read
            throw new MixedUploadError();
          }
          jsonUpload = isJson;
          const name = jsonUpload ? POSTS_JSON : `part-${keys.length + 1}.zip`;
          const key = uploadKey(target.apiKeyId, target.batchId, name);
          keys.push(key); // before the write: a part that fails half-way is deleted too
          // the parser reports a body cut short inside a file part on that part's stream (maybe before this
          // reads it): the stream's own error is the parser's, any other is the spool's
          const file = await spool.write(target.batchId, name, part.file).catch((err: unknown) => {
            throw err === part.file.errored ? malformed(err) : err;
          });
          if (part.file.truncated) throw new UploadTooLargeError(part.filename, maxPartBytes);
          const notJson = jsonUpload ? await notJsonReason(file.path) : undefined;
          if (notJson) throw new InvalidJsonError(`file ${JSON.stringify(part.filename ?? "")}`, notJson);
          await stored.at(-1);
          const type = jsonUpload ? "application/json" : "application/zip";
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
  return { source: jsonUpload ? { type: "json", key: keys[0]! } : { type: "zip", keys }, keys, options };
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
