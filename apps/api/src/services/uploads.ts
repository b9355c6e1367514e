import type { Multipart } from "@fastify/multipart";
import { type BatchOptions, batchOptionsSchema } from "@lxtag/contracts";
import type { ObjectStore } from "@lxtag/storage";
import { InvalidJsonError, MissingUploadError, UploadTooLargeError, ValidationError } from "../errors.js";

export const uploadKey = (batchId: string, name: string) => `uploads/${batchId}/${name}`;

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

/**
 * Streams every file part of a multipart upload to S3 as `uploads/<batchId>/part-<n>.zip` (nothing is buffered
 * whole) and reads the optional `options` field (JSON text of BatchOptions).
 */
export async function receiveUpload(
  store: ObjectStore,
  batchId: string,
  parts: AsyncIterable<Multipart>,
  maxPartBytes: number,
): Promise<Upload> {
  const keys: string[] = [];
  let options = batchOptionsSchema.parse({});
  for await (const part of parts) {
    if (part.type === "file") {
      const key = uploadKey(batchId, `part-${keys.length + 1}.zip`);
      await store.putStream(key, part.file, "application/zip");
      if (part.file.truncated) throw new UploadTooLargeError(part.filename, maxPartBytes);
      keys.push(key);
    } else if (part.fieldname === "options") {
      options = parseOptions(part.value);
    }
  }
  if (!keys.length) throw new MissingUploadError();
  return { keys, options };
}
