import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";
import { AddressPolicy, RefusedAddressError } from "./address-policy.js";
import type { FeatureConfig } from "./config.js";

/**
 * Why an image will never be usable: the post is predicted from its caption and flagged `image-error:<reason>`.
 * `unreachable` is every URL whose host is not a public address, or has no address at all: one flag whatever
 * listens there, so that image URLs cannot map the network behind the worker.
 */
export type UnavailableReason =
  | "missing"
  | "too-large"
  | "unreachable"
  | "not-https"
  | "invalid-url"
  | "too-many-redirects"
  | `http-${number}`;

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

/** Which image URLs may be fetched. */
export interface UrlPolicy {
  /** Also `http://` (the README promises https); for tests against a local server. */
  allowHttp: boolean;
  /** The addresses a URL's host may resolve to, and the resolver that enforces it on every connection. */
  addresses: AddressPolicy;
}

export interface FetchLimits {
  /** Largest URL image, bytes. */
  maxBytes: number;
  /** Whole request, redirects, headers and body, ms. */
  timeoutMs: number;
  urls: UrlPolicy;
}

/** The feature worker's limits and URL policy for fetching images. */
export function fetchLimits(config: FeatureConfig): FetchLimits {
  return {
    maxBytes: config.LXTAG_MAX_IMAGE_BYTES,
    timeoutMs: config.LXTAG_IMAGE_FETCH_TIMEOUT_MS,
    urls: {
      allowHttp: config.LXTAG_IMAGE_FETCH_ALLOW_HTTP,
      addresses: new AddressPolicy({ allowNetworks: config.LXTAG_IMAGE_FETCH_ALLOW_NETWORKS }),
    },
  };
}

/** Statuses that say "not now" rather than "never". */
const RETRYABLE = new Set([408, 425, 429]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Redirects followed per image, each checked as the first URL was. */
const MAX_REDIRECTS = 3;
const URL_REF = /^https?:\/\//i;

/**
 * An image reference is an S3 key in the lxtag bucket or an http(s) URL. Throws `ImageUnavailableError` when the
 * image will never come (a missing key, a URL the policy refuses, HTTP 404/410 or another refusal, over
 * `maxBytes`); any other error (an outage, a timeout, HTTP 5xx) is thrown as is or as `ImageFetchError`, for the
 * job to be retried.
 */
export async function fetchImage(store: ObjectStore, ref: string, limits: FetchLimits): Promise<Buffer> {
  if (!URL_REF.test(ref)) {
    try {
      return await store.get(ref);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new ImageUnavailableError(ref, "missing", err.message);
      throw err;
    }
  }
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    let url = parseUrl(ref, ref);
    for (let redirects = 0; ; redirects++) {
      checkUrl(ref, url, limits.urls);
      const res = await get(url, limits.urls.addresses, signal);
      const status = res.statusCode ?? 0;
      if (!REDIRECTS.has(status)) return await readImage(ref, res, limits.maxBytes);
      res.destroy();
      const location = res.headers.location;
      if (!location) throw new ImageUnavailableError(ref, `http-${status}`, "redirect without Location");
      if (redirects === MAX_REDIRECTS)
        throw new ImageUnavailableError(ref, "too-many-redirects", `more than ${MAX_REDIRECTS} redirects`);
      url = parseUrl(ref, location, url);
    }
  } catch (err) {
    if (err instanceof ImageUnavailableError || err instanceof ImageFetchError) throw err;
    // a host that does not exist reads as one that may not be reached: neither says what is behind the worker
    if (err instanceof RefusedAddressError || (err as NodeJS.ErrnoException).code === "ENOTFOUND")
      throw new ImageUnavailableError(ref, "unreachable", (err as Error).message);
    const reason = signal.aborted ? `no answer within ${limits.timeoutMs} ms` : (err as Error).message;
    throw new ImageFetchError(ref, reason);
  }
}

function parseUrl(ref: string, text: string, base?: URL): URL {
  try {
    return new URL(text, base);
  } catch {
    throw new ImageUnavailableError(ref, "invalid-url", `not a URL: ${text}`);
  }
}

/** The scheme, and a host given as an IP address (host names are checked as they resolve, in `lookup`). */
function checkUrl(ref: string, url: URL, policy: UrlPolicy): void {
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp))
    throw new ImageUnavailableError(ref, "not-https", `${url.protocol} URLs are not fetched (${url.href})`);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host) && !policy.addresses.permits(host))
    throw new ImageUnavailableError(ref, "unreachable", new RefusedAddressError(host).message);
}

/**
 * One GET, on a connection of its own (no pooled socket outlives the policy that checked its address), resolved
 * by the policy's `lookup`.
 */
function get(url: URL, addresses: AddressPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { lookup: addresses.lookup, signal, agent: false }, resolve);
    req.on("error", reject);
    req.end();
  });
}

async function readImage(ref: string, res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    res.destroy();
    if (status === 404 || status === 410) throw new ImageUnavailableError(ref, "missing", `HTTP ${status}`);
    if (status >= 500 || RETRYABLE.has(status)) throw new ImageFetchError(ref, `HTTP ${status}`, status);
    throw new ImageUnavailableError(ref, `http-${status}`, `HTTP ${status}`);
  }
  const declared = Number(res.headers["content-length"] ?? Number.NaN);
  if (declared > maxBytes) {
    res.destroy();
    throw new ImageUnavailableError(ref, "too-large", `${declared} bytes, over ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > maxBytes) {
      res.destroy();
      throw new ImageUnavailableError(ref, "too-large", `more than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
