import type { Multipart } from "@fastify/multipart";
import { type BatchOptions, batchOptionsSchema } from "@lxtag/contracts";
import type { Logger } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import { InvalidJsonError, MissingUploadError, UploadTooLargeError, ValidationError } from "../errors.js";
import { uploadKey, uploadPrefix } from "./upload-keys.js";

export interface Upload {
  keys: string[];
  options: BatchOptions;
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
  /** Largest zip part, bytes (the multipart plugin's `fileSize` limit). */
  maxPartBytes: number;
  /** Where a failed clean-up is reported (the parts it could not delete stay in S3). */
  log: Logger;
}

/**
 * Streams every file part of a multipart upload to S3 as `uploads/<apiKeyId>/<batchId>/part-<n>.zip` (nothing is
 * buffered whole) and reads the optional `options` field (JSON text of BatchOptions). The fields may come in any
 * order, so a bad `options` after a file part is found only once that part is written: an upload that fails for
 * any reason (bad options, a part over the limit, a client gone mid-stream) deletes what it wrote.
 */
export async function receiveUpload(
  store: ObjectStore,
  target: { apiKeyId: string; batchId: string },
  parts: AsyncIterable<Multipart>,
  { maxPartBytes, log }: ReceiveUploadOptions,
): Promise<Upload> {
  const keys: string[] = [];
  let options = batchOptionsSchema.parse({});
  try {
    for await (const part of parts) {
      if (part.type === "file") {
        const key = uploadKey(target.apiKeyId, target.batchId, `part-${keys.length + 1}.zip`);
        keys.push(key); // before the write: a part that fails half-way is deleted too
        await store.putStream(key, part.file, "application/zip");
        if (part.file.truncated) throw new UploadTooLargeError(part.filename, maxPartBytes);
      } else if (part.fieldname === "options") {
        options = parseOptions(part.value);
      }
    }
  } catch (err) {
    if (keys.length)
      await store.delete(keys).catch((cleanup: unknown) =>
        // the request's own error is what the client needs; this one is ours to see
        log.error(
          { batchId: target.batchId, keys, err: (cleanup as Error).message },
          "failed upload: its parts could not be deleted",
        ),
      );
    throw err;
  }
  if (!keys.length) throw new MissingUploadError();
  return { keys, options };
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
