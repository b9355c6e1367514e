import type { BatchStateName } from "@lxtag/contracts";
import type { ModelVersionRefusedError } from "@lxtag/db";

/** The API's own errors: each has a stable code and an HTTP status; the error handler turns them into responses. */
export abstract class ApiError extends Error {
  abstract readonly statusCode: number;
  abstract readonly code: string;
  /** Sent as `Retry-After` (seconds): when the same request may succeed. */
  readonly retryAfterSeconds: number | undefined = undefined;
}

export class UnauthorizedError extends ApiError {
  override name = "UnauthorizedError";
  readonly statusCode = 401;
  readonly code = "unauthorized";
  constructor() {
    super("missing or invalid API key (send x-api-key or Authorization: Bearer)");
  }
}

/** Too many requests in the rate limit's window from one API key (or, without a valid key, one address). */
export class RateLimitedError extends ApiError {
  override name = "RateLimitedError";
  readonly statusCode = 429;
  readonly code = "rate_limited";
  constructor(
    readonly limit: number,
    override readonly retryAfterSeconds: number,
  ) {
    super(`rate limit of ${limit} requests exceeded; retry in ${retryAfterSeconds} s`);
  }
}

/**
 * The job queue (Redis) cannot take the batch's ingest job: nothing is kept (no batch row, no uploaded object), and
 * the client retries the same request later.
 */
export class QueueUnavailableError extends ApiError {
  override name = "QueueUnavailableError";
  readonly statusCode = 503;
  readonly code = "queue_unavailable";
  constructor(
    override readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super(`the job queue is unavailable; nothing was stored, retry in ${retryAfterSeconds} s`, options);
  }
}

/**
 * A multipart upload that streamed longer than LXTAG_UPLOAD_ABANDONED_AFTER_S: the reconciler gave its batch up
 * as abandoned meanwhile, so what it wrote is deleted and the client uploads again.
 */
export class UploadAbandonedError extends ApiError {
  override name = "UploadAbandonedError";
  readonly statusCode = 409;
  readonly code = "upload_abandoned";
  constructor(
    readonly batchId: string,
    limitSeconds: number,
  ) {
    super(
      `the upload took longer than ${limitSeconds} s and its batch ${batchId} was given up as abandoned; ` +
        "nothing was kept, upload again",
    );
  }
}

/** Activating, without `force`, a version a predict worker refused (it failed the worker's warm-up run). */
export class ModelRefusedError extends ApiError {
  override name = "ModelRefusedError";
  readonly statusCode = 409;
  readonly code = "model_refused";
  constructor(refused: ModelVersionRefusedError) {
    super(
      `${refused.message}. A bundle never changes: publish a fixed one as a new version, or, if the cause has ` +
        "passed (a memory shortage, say), activate it with force=true",
      { cause: refused },
    );
  }
}

/** A valid key asking for what only an admin key may do. */
export class ForbiddenError extends ApiError {
  override name = "ForbiddenError";
  readonly statusCode = 403;
  readonly code = "forbidden";
  constructor() {
    super("this route needs an admin API key");
  }
}

/**
 * An `s3Keys` entry outside the caller's own uploads (`uploads/<apiKeyId>/`). Refused before S3 is asked, so the
 * answer says nothing about whether another key's object exists; the message names the caller's own prefix.
 */
export class ForeignObjectError extends ApiError {
  override name = "ForeignObjectError";
  readonly statusCode = 403;
  readonly code = "forbidden_object";
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`s3Keys entry ${JSON.stringify(key)} is ${reason}`);
  }
}

/**
 * A model whose features come from another detector than the serving one: activating it would feed it features it
 * was never trained on.
 */
export class DetectorMismatchError extends ApiError {
  override name = "DetectorMismatchError";
  readonly statusCode = 409;
  readonly code = "detector_mismatch";
  constructor(
    readonly modelId: string,
    readonly modelDetector: string,
    /** null: no detector is published (detectors/current.json does not exist). */
    readonly servingDetector: string | null,
  ) {
    super(
      servingDetector === null
        ? `model ${modelId} needs detector ${modelDetector}, and no detector is serving (detectors/current.json is missing)`
        : `model ${modelId} needs detector ${modelDetector}, but the serving detector is ${servingDetector}`,
    );
  }
}

/** Unknown ids and other keys' resources look the same, so ids cannot be probed. */
export class NotFoundError extends ApiError {
  override name = "NotFoundError";
  readonly statusCode = 404;
  readonly code = "not_found";
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} ${id} not found`);
  }
}

/**
 * A training run's row holds a JSON value its contract (`packages/contracts`) does not describe: the trainer and
 * the API disagree, which is ours to fix (a 500, with this in the log).
 */
export class InvalidStoredRunError extends Error {
  override name = "InvalidStoredRunError";
  constructor(
    readonly runId: string,
    readonly field: string,
    readonly issues: string,
  ) {
    super(`training run ${runId}: ${field} does not match its contract: ${issues}`);
  }
}

export interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** For a union: each branch's issues, with paths relative to the union. */
  readonly errors?: readonly (readonly Issue[])[];
}

const depth = (issues: readonly Issue[]) => Math.max(...issues.map((i) => i.path.length));

/**
 * The branch of a failed union the input most likely meant: fewest issues, then the deepest (it got furthest).
 * None on a tie, where the union's own message says more than either branch.
 */
function likelyBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | undefined {
  const ranked = branches
    .filter((b) => b.length)
    .toSorted((a, b) => a.length - b.length || depth(b) - depth(a));
  const [best, next] = ranked;
  if (!best) return undefined;
  if (next && next.length === best.length && depth(next) === depth(best)) return undefined;
  return best;
}

function flatten(issue: Issue): readonly Issue[] {
  const branch = issue.errors && likelyBranch(issue.errors);
  if (!branch) return [issue];
  return branch.flatMap((i) => flatten({ ...i, path: [...issue.path, ...i.path] }));
}

/** `path: message; ...`, with `root` naming issues about the whole value. The one format of zod issues. */
export function formatIssues(issues: readonly Issue[], root: string): string {
  return issues
    .flatMap(flatten)
    .map((i) => `${i.path.map(String).join(".") || root}: ${i.message}`)
    .join("; ");
}

/** Input that does not match its schema: a request part, or a multipart field checked as it streams. */
export class ValidationError extends ApiError {
  override name = "ValidationError";
  readonly statusCode = 400;
  readonly code = "bad_request";
  constructor(
    readonly part: string,
    readonly issues: readonly Issue[],
  ) {
    super(formatIssues(issues, part));
  }
}

/** A JSON body, or a multipart field that should hold JSON, does not parse. */
export class InvalidJsonError extends ApiError {
  override name = "InvalidJsonError";
  readonly statusCode = 400;
  readonly code = "invalid_json";
  constructor(
    readonly part: string,
    why?: string,
  ) {
    super(`${part} is not valid JSON${why ? `: ${why}` : ""}`);
  }
}

/** POST /v1/batches with neither a file part nor a JSON body. */
export class MissingUploadError extends ApiError {
  override name = "MissingUploadError";
  readonly statusCode = 400;
  readonly code = "missing_upload";
  constructor(message = "multipart upload without any file part") {
    super(message);
  }
}

/** A multipart body the parser cannot read: cut short, without its boundary, a broken part header. */
export class MalformedUploadError extends ApiError {
  override name = "MalformedUploadError";
  readonly statusCode = 400;
  readonly code = "malformed_upload";
  constructor(why: string) {
    super(`the multipart body cannot be read: ${why}`);
  }
}

/** A multipart upload of zip parts and a JSON file of posts together, or of two JSON files. */
export class MixedUploadError extends ApiError {
  override name = "MixedUploadError";
  readonly statusCode = 400;
  readonly code = "mixed_upload";
  constructor() {
    super("send the zip parts of one export, or one JSON file of posts, not both and not two JSON files");
  }
}

export class UploadTooLargeError extends ApiError {
  override name = "UploadTooLargeError";
  readonly statusCode = 413;
  readonly code = "payload_too_large";
  constructor(
    readonly filename: string,
    readonly limitBytes: number,
  ) {
    super(`upload part ${filename} exceeds ${limitBytes} bytes`);
  }
}

/** A JSON body of POST /v1/batches past LXTAG_API_BODY_LIMIT. */
export class BodyTooLargeError extends ApiError {
  override name = "BodyTooLargeError";
  readonly statusCode = 413;
  readonly code = "payload_too_large";
  constructor(readonly limitBytes: number) {
    super(
      `the JSON body exceeds ${limitBytes} bytes (LXTAG_API_BODY_LIMIT); send the posts as a JSON file in a ` +
        "multipart upload, whose limit is a part's",
    );
  }
}

/** A post without a stored image that decodes (caption-only, video, missing or corrupt media): no thumbnail. */
export class NoThumbnailError extends ApiError {
  override name = "NoThumbnailError";
  readonly statusCode = 404;
  readonly code = "no_thumbnail";
  constructor(
    readonly postId: string,
    reason: string,
  ) {
    super(`post ${postId} has no thumbnail: ${reason}`);
  }
}

/** A relabel asked for while the batch's posts are still being read: they are not all there to relabel. */
export class BatchIngestingError extends ApiError {
  override name = "BatchIngestingError";
  readonly statusCode = 409;
  readonly code = "batch_ingesting";
  constructor(
    readonly batchId: string,
    readonly state: BatchStateName,
  ) {
    super(`batch ${batchId} is ${state}: relabel it once its ingest has finished`);
  }
}

/** A relabel with no model to relabel with (a fresh install, before its first model is activated). */
export class NoActiveModelError extends ApiError {
  override name = "NoActiveModelError";
  readonly statusCode = 409;
  readonly code = "no_active_model";
  constructor() {
    super("no model is active: activate one (POST /v1/models/:id/activate) before relabeling");
  }
}
