import { ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";

/** Why an image will never be usable: the post is predicted from its caption and flagged `image-error:<reason>`. */
export type UnavailableReason = "missing" | "too-large" | `http-${number}`;

/** The image definitively cannot be had: it does not exist, is over the size limit, or its host refuses it. */
export class ImageUnavailableError extends Error {
  override name = "ImageUnavailableError";
  constructor(
    readonly ref: string,
    readonly reason: UnavailableReason,
    message: string,
  ) {
    super(`image ${ref}: ${message}`);
  }
}

/** The image could not be fetched now (network, timeout, 5xx, 429): the job is retried later. */
export class ImageFetchError extends Error {
  override name = "ImageFetchError";
  constructor(
    readonly ref: string,
    message: string,
    readonly status?: number,
  ) {
    super(`image ${ref}: ${message}`);
  }
}

export interface FetchLimits {
  /** Largest URL image, bytes. */
  maxBytes: number;
  /** Whole request, headers and body, ms. */
  timeoutMs: number;
}

/** Statuses that say "not now" rather than "never". */
const RETRYABLE = new Set([408, 425, 429]);

/**
 * An image reference is an S3 key in the lxtag bucket or an http(s) URL. Throws `ImageUnavailableError` when the
 * image will never come (a missing key, HTTP 404/410 or another refusal, over `maxBytes`); any other error (an
 * outage, a timeout, HTTP 5xx) is thrown as is or as `ImageFetchError`, for the job to be retried.
 */
export async function fetchImage(store: ObjectStore, ref: string, limits: FetchLimits): Promise<Buffer> {
  if (!/^https?:\/\//i.test(ref)) {
    try {
      return await store.get(ref);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new ImageUnavailableError(ref, "missing", err.message);
      throw err;
    }
  }
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const res = await fetch(ref, { signal });
    if (!res.ok) {
      await res.body?.cancel();
      if (res.status === 404 || res.status === 410)
        throw new ImageUnavailableError(ref, "missing", `HTTP ${res.status}`);
      if (res.status >= 500 || RETRYABLE.has(res.status))
        throw new ImageFetchError(ref, `HTTP ${res.status}`, res.status);
      throw new ImageUnavailableError(ref, `http-${res.status}`, `HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get("content-length") ?? Number.NaN);
    if (declared > limits.maxBytes) {
      await res.body?.cancel();
      throw new ImageUnavailableError(ref, "too-large", `${declared} bytes, over ${limits.maxBytes}`);
    }
    if (!res.body) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of res.body) {
      n += chunk.length;
      if (n > limits.maxBytes)
        throw new ImageUnavailableError(ref, "too-large", `more than ${limits.maxBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof ImageUnavailableError || err instanceof ImageFetchError) throw err;
    const cause = (err as Error).cause as Error | undefined; // fetch's "fetch failed" hides the socket error here
    const reason = signal.aborted
      ? `no answer within ${limits.timeoutMs} ms`
      : `${(err as Error).message}${cause?.message ? `: ${cause.message}` : ""}`;
    throw new ImageFetchError(ref, reason);
  }
}
