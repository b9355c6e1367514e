import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { createReadStream } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { finished } from "node:stream/promises";
import { SignatureV4 } from "@smithy/signature-v4";
import type { ObjectStoreOptions } from "./object-store.js";

/** Where objects live and how to sign for them, with both timeouts settled. */
export type SignedRequestsOptions = Omit<ObjectStoreOptions, "requestTimeoutMs"> & {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
};

/**
 * An S3 error answer, shaped as the SDK's service errors are (`name` is S3's error code, `$metadata` the status),
 * so that one check tells "no such key" or "try later" whichever client made the request.
 */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };

  constructor(code: string, status: number, message: string) {
    super(message || `${code} (HTTP ${status})`);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
  }
}

/** A file's bytes as a PUT's body: its length and SHA-256 known beforehand, read from disk again on each attempt. */
export interface FileBody {
  path: string;
  bytes: number;
  /** Hex SHA-256 of the file's bytes, which the request signs (S3 refuses a body that does not match). */
  sha256: string;
}

/**
 * A file sent as a request body, read in pieces of 1 MiB: at fs' default 64 KiB, a 100 MiB upload took 1,600 reads
 * and socket writes, and sending it to a local server cost sender and receiver together about 1.6 times the CPU.
 */
export const readFileBody = (path: string) => createReadStream(path, { highWaterMark: 2 ** 20 });

/** The SDK's client makes up to three attempts at a request that failed on the way or got a 5xx/429 answer. */
const ATTEMPTS = 3;
/** Hex SHA-256 of an empty body: a GET's payload hash, which S3 wants in `x-amz-content-sha256`. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** Sockets kept per S3 host: above any caller's reads in flight (the predict worker's is 96 by default). */
const MAX_SOCKETS = 256;
const IDLE_SOCKET_MS = 15_000;

/**
 * Whether the bucket can be addressed as a host name (`<bucket>.<endpoint>`), as the SDK decides: not on an IP
 * endpoint, not for names DNS does not allow, and not for dotted names over TLS (the certificate would not match).
 */
function virtualHostable(bucket: string, endpoint: URL, https: boolean): boolean {
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(endpoint.hostname) || endpoint.hostname.startsWith("[");
  const dnsName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !bucket.includes("..");
  return !ip && dnsName && !(https && bucket.includes("."));
}

/** What the signer hashes: its `SourceData`. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData): string | Uint8Array =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** Node's crypto in the shape the signer wants (a hash, or an HMAC when given a secret). */
class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret?: string | Uint8Array;

  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytesOf(secret);
    this.hash = this.fresh();
  }

  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
  }
}

/** S3 key segments escaped as RFC 3986 wants (S3 signs the path as sent, without escaping it again). */
const escapeKey = (key: string) =>
  key
    .split("/")
    .map((s) =>
      encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join("/");

/** What S3 said in an error answer's XML body (absent for some statuses). */
const xmlField = (xml: string, field: string) => new RegExp(`<${field}>([^<]*)</${field}>`).exec(xml)?.[1];

/** S3's error codes for "try again", whatever the status (a `RequestTimeout` comes as a 400). */
const RETRYABLE_CODES = new Set(["RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"]);

const isRetryable = (err: unknown) => {
  if (err instanceof S3ResponseError) {
    const status = err.$metadata.httpStatusCode;
    return status >= 500 || status === 429 || status === 408 || RETRYABLE_CODES.has(err.name);
  }
  // refused, reset or timed out on the way (nothing reached S3's answer), never a mistake of ours (no code)
  const { code, name } = err as { code?: unknown; name?: unknown };
  return typeof code === "string" || name === "TimeoutError";
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GetObject, HeadObject and PutObject as one signed HTTP request each, on kept-alive sockets. The SDK's commands
 * spend about 1.1 ms of CPU per request in their middleware (measured against s3rver at 96 GETs in flight: 1.6 ms
 * per GET against 0.4 ms here), which on the predict path costs more than the model does, at ingest as much as
 * reading and hashing an image, and is most of a feature job whose image is already detected (a HEAD); signing is
 * the SDK's own (`@smithy/signature-v4`). The other S3 requests (LIST, DELETE, multipart uploads, buckets) stay on
 * the SDK: they are few.
 */
export class SignedRequests {
  private readonly signer: SignatureV4;
  private readonly agent: HttpAgent;
  private readonly origin: URL;
  private readonly pathPrefix: string;
  private readonly request: typeof httpRequest;

  constructor(private readonly options: SignedRequestsOptions) {
    const endpoint = new URL(options.endpoint ?? `https://s3.${options.region}.amazonaws.com`);
    const https = endpoint.protocol === "https:";
    const pathStyle = (options.forcePathStyle ?? true) || !virtualHostable(options.bucket, endpoint, https);
    if (!pathStyle) endpoint.hostname = `${options.bucket}.${endpoint.hostname}`;
    this.origin = endpoint;
    this.pathPrefix = `${endpoint.pathname.replace(/\/$/, "")}${pathStyle ? `/${escapeKey(options.bucket)}` : ""}/`;
    // an idle socket is closed after a while: S3 closes them too, and a request on one it closed is a reset
    const agent = { keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS };
    this.agent = https ? new HttpsAgent(agent) : new HttpAgent(agent);
    this.request = https ? httpsRequest : httpRequest;
    this.signer = new SignatureV4({
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      region: options.region,
      service: "s3",
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /**
   * The object's body, streaming, once S3 answered 200. Throws `S3ResponseError` for an error answer (after the
   * SDK's three attempts for 5xx and 429), or the socket's error (after three attempts too).
   */
  async open(key: string): Promise<IncomingMessage> {
    return this.attempts(() => this.once("GET", key, { "x-amz-content-sha256": EMPTY_SHA256 }));
  }

  /** Whether `key` names an object (HeadObject); a missing key is S3's 404, thrown like any other answer. */
  async head(key: string): Promise<void> {
    const res = await this.attempts(() => this.once("HEAD", key, { "x-amz-content-sha256": EMPTY_SHA256 }));
    res.resume();
    await finished(res);
  }

  /** The object's bytes, checked against the length S3 announced (a dropped connection never passes as a body). */
  async get(key: string): Promise<Buffer> {
    const res = await this.open(key);
    const announced = Number(res.headers["content-length"]);
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res) {
      chunks.push(chunk as Buffer);
      received += (chunk as Buffer).length;
    }
    if (Number.isFinite(announced) && received !== announced)
      throw Object.assign(new Error(`GET ${key}: ${received} of ${announced} bytes arrived`), {
        code: "ECONNRESET",
      });
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
  }

  /**
   * Stores `body` under `key` (one request, with its SHA-256 signed: S3 refuses a body that does not match); a
   * buffer's `sha256`, when given, is signed as it is.
   */
  async put(key: string, body: Buffer | FileBody, contentType?: string, sha256?: string): Promise<void> {
    const headers: Record<string, string> = Buffer.isBuffer(body)
      ? {
          "x-amz-content-sha256": sha256 ?? createHash("sha256").update(body).digest("hex"),
          "content-length": String(body.length),
        }
      : { "x-amz-content-sha256": body.sha256, "content-length": String(body.bytes) };
    if (contentType) headers["content-type"] = contentType;
    const res = await this.attempts(() => this.once("PUT", key, headers, body));
    res.resume();
    await finished(res);
  }

  destroy(): void {
    this.agent.destroy();
  }

  private async attempts(request: () => Promise<IncomingMessage>): Promise<IncomingMessage> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (err) {
        if (attempt >= ATTEMPTS || !isRetryable(err)) throw err;
        await sleep(100 * 2 ** (attempt - 1) * (0.5 + Math.random()));
      }
    }
  }

  /** One signed request; resolves with the response once S3 answered 200, else throws what S3 said. */
  private async once(
    method: "GET" | "HEAD" | "PUT",
    key: string,
    headers: Record<string, string>,
    body?: Buffer | FileBody,
  ): Promise<IncomingMessage> {
    if (!key) throw new RangeError("an S3 key may not be empty (it would name the bucket)");
    const { origin } = this;
    const port = origin.port ? Number(origin.port) : undefined;
    const signed = await this.signer.sign({
      method,
      protocol: origin.protocol,
      hostname: origin.hostname,
      port,
      path: `${this.pathPrefix}${escapeKey(key)}`,
      query: {},
      headers: { host: origin.host, ...headers },
    });
    let response: IncomingMessage | undefined;
    let sending: (() => void) | undefined; // stops a file body still being sent
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.request(
        {
          agent: this.agent,
          protocol: origin.protocol,
          hostname: origin.hostname.replace(/^\[(.*)\]$/, "$1"), // an IPv6 literal without its brackets
          port,
          method,
          path: signed.path,
          headers: signed.headers,
          timeout: this.options.connectionTimeoutMs,
        },
        (r) => {
          response = r;
          resolve(r);
        },
      );
      req.on("error", reject);
      // silent past the connection timeout before the socket connects, then past the request timeout; once the
      // answer has begun, the body's reader gets the error (a body cut short never ends as if whole)
      req.on("timeout", () => {
        const err = Object.assign(new Error(`${method} ${key}: no answer in time`), { name: "TimeoutError" });
        if (response) response.destroy(err);
        req.destroy(err);
      });
      req.on("socket", (socket) => {
        if (!socket.connecting) req.setTimeout(this.options.requestTimeoutMs);
        else socket.once("connect", () => req.setTimeout(this.options.requestTimeoutMs));
      });
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      else {
        const file = readFileBody(body.path);
        // a file that cannot be read fails the request, and is no reason to try again (not an S3 error)
        file.on("error", (err) =>
          req.destroy(
            Object.assign(new Error(`reading ${body.path}: ${err.message}`), { name: "FileBodyError" }),
          ),
        );
        req.on("error", () => file.destroy());
        file.pipe(req);
        sending = () => {
          file.destroy();
          req.destroy();
        };
      }
    });
    if (res.statusCode === 200) return res;
    const answer: Buffer[] = [];
    for await (const chunk of res) answer.push(chunk as Buffer);
    // S3 may answer before the body is all sent: the rest is not sent, and the next attempt starts afresh
    sending?.();
    const xml = Buffer.concat(answer).toString("utf8");
    const status = res.statusCode ?? 0;
    throw new S3ResponseError(
      xmlField(xml, "Code") ?? (status === 404 ? "NotFound" : `Http${status}`),
      status,
      xmlField(xml, "Message") ?? "",
    );
  }
}
