// The JSON body of POST /v1/batches, received as it arrives: written to the upload spool, never held whole (a
// 100,000-post body parsed in memory took the API from 224 to 619 MiB), then read through once for its shape.
import { createReadStream } from "node:fs";
import { PassThrough, type Readable, type Writable } from "node:stream";
import {
  type CreateBatchBody,
  createBatchBodySchema,
  JSON_BODY_MAX_POSTS,
  CREATE_BATCH_BODY_SHAPE as SHAPE,
} from "@lxtag/contracts";
import { ExportError, jsonOutline } from "@lxtag/exports";
import type { FileBody } from "@lxtag/storage";
import { BodyTooLargeError, InvalidJsonError, ValidationError } from "../errors.js";
import { POSTS_JSON } from "./upload-keys.js";
import type { UploadSpool } from "./upload-spool.js";

/** A JSON body as its schema reads it: its posts stay in the spooled file (`{posts, options}` as sent). */
export type ReceivedJsonBody =
  | { file: FileBody; options: CreateBatchBody["options"] }
  | { file?: undefined; s3Keys: string[]; options: CreateBatchBody["options"] };

/** What of its request a JSON body is received with, besides its payload. */
export interface JsonBodyRequest {
  /** The largest body taken (LXTAG_API_BODY_LIMIT). */
  maxBytes: number;
  /** The request's content-length, 0 when it declares none (chunked). */
  declaredBytes: number;
  /** The request's response: a refused body is read until some time after the answer was sent (`LINGER_MS`). */
  response: Writable;
}

/**
 * Writes the body to the batch's spool folder as `posts.json` (what the ingest reads: the `posts` of an object),
 * up to `maxBytes`, then checks it as `createBatchBodySchema` would the parsed body: posts are counted, not parsed
 * (each is checked at ingest, where a malformed one fails alone), and `options` and `s3Keys` are read whole. An
 * `s3Keys` body leaves its copy for the caller to remove. Throws the client's error: 413 past `maxBytes` (the rest
 * of the request is dropped as it comes, see `discard`), 400 for JSON that does not parse or a
 * shape the schema refuses.
 */
export async function receiveJsonBody(
  spool: UploadSpool,
  batchId: string,
  payload: Readable,
  { maxBytes, declaredBytes, response }: JsonBodyRequest,
): Promise<ReceivedJsonBody> {
  if (declaredBytes > maxBytes) {
    discard(payload, response);
    throw new BodyTooLargeError(maxBytes);
  }
  // gone before its first byte was read (while the queue was asked): no 'end' or 'error' would come any more
  if (payload.destroyed) throw cutShort("the client went away");
  const body = limited(payload, maxBytes, response);
  const file = await spool.write(batchId, POSTS_JSON, body).catch((err: unknown) => {
    body.destroy(); // the spool failed before it read the body (its folder): the rest of the request is dropped
    throw err;
  });
  if (!file.bytes) throw new InvalidJsonError("body", "it is empty");
  let outline: Awaited<ReturnType<typeof jsonOutline>>;
  try {
    outline = await jsonOutline(createReadStream(file.path), {
      name: "body",
      wrappers: ["posts"],
      keep: ["options", "s3Keys"],
      expected: SHAPE,
    });
  } catch (err) {
    if (!(err instanceof ExportError)) throw err;
    const reason = err.message.replace(/^[a-z-]+: body: /, "");
    if (err.code === "invalid-json") throw new InvalidJsonError("body", reason);
    // the top level, or its `posts`, is not what the schema takes: the schema's union says so, as it always has
    // (the scanner's "found a string" names the top level, where `posts` may be the string); else a kept value
    // too long, which the reason names
    const message = /^expected /.test(reason) ? `expected ${SHAPE}` : reason;
    throw new ValidationError("body", [{ path: [], message }]);
  }
  if (outline.array) throw new ValidationError("body", [{ path: [], message: `expected ${SHAPE}` }]);
  // said here, with the way out: the schema's union would name neither of its branches
  if (outline.items > JSON_BODY_MAX_POSTS)
    throw new ValidationError("body", [
      {
        path: ["posts"],
        message: `${outline.items} posts, more than a JSON body takes (${JSON_BODY_MAX_POSTS}); send them as a JSON file in a multipart upload`,
      },
    ]);
  // the schema's own answer on the rest, the posts standing in by one placeholder (or none)
  const parsed = createBatchBodySchema.safeParse({
    ...outline.kept,
    ...(outline.wrapper && { posts: outline.items ? [null] : [] }),
  });
  if (!parsed.success) throw new ValidationError("body", parsed.error.issues);
  const { options } = parsed.data;
  return "s3Keys" in parsed.data ? { s3Keys: parsed.data.s3Keys, options } : { file, options };
}

/** How long a refused request is still read after its answer was sent: nginx's `lingering_time`. */
export const LINGER_MS = 30_000;

/**
 * Reads the rest of a refused request and drops it, so that a client still sending can read the answer (closing a
 * socket with unread data resets it, and the answer may be lost with it); `LINGER_MS` after the answer was sent,
 * a request not ended yet is destroyed: a client that never stops sending is not read for ever.
 */
function discard(payload: Readable, response: Writable): void {
  payload.on("error", () => {}); // the client going away now is no error of the request's any more
  const linger = () => {
    const timer = setTimeout(() => payload.destroy(), LINGER_MS).unref();
    payload.once("close", () => clearTimeout(timer));
  };
  if (response.writableFinished) linger();
  else response.once("finish", linger);
  payload.resume();
}

const cutShort = (why: string) => new InvalidJsonError("body", `it was cut short (${why})`);

/**
 * `payload` up to `maxBytes`; past them the returned stream fails with `BodyTooLargeError`, and the payload is
 * detached and drained rather than destroyed (destroying a request closes its socket before the 413 is written).
 * The client going away fails it too. The stream's error is read by its consumer's pipeline (`errored`), which may
 * start later (after the spool made its folder): it must not count as unhandled meanwhile.
 */
function limited(payload: Readable, maxBytes: number, response: Writable): Readable {
  const out = new PassThrough();
  out.on("error", () => {});
  let received = 0;
  const detach = () => {
    payload.off("data", onData).off("end", onEnd).off("error", onError).off("close", onAborted);
    out.off("drain", onDrain).off("close", onClose);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxBytes) {
      detach();
      discard(payload, response);
      out.destroy(new BodyTooLargeError(maxBytes));
    } else if (!out.write(chunk)) payload.pause();
  };
  const onDrain = () => payload.resume();
  const onEnd = () => {
    detach();
    out.end();
  };
  // the client went away mid-body, or the body broke off
  const onError = (err: Error) => {
    detach();
    out.destroy(cutShort(err.message));
  };
  // closed before its end, with no error to say why
  const onAborted = () => onError(new Error("the client went away"));
  // the spool gave up (its disk): what is left of the body is dropped
  const onClose = () => {
    detach();
    discard(payload, response);
  };
  payload.on("data", onData).on("end", onEnd).on("error", onError).on("close", onAborted);
  out.on("drain", onDrain).on("close", onClose);
  return out;
}
