/**
 * Whether an error says "the infrastructure is not there now" (Redis, Postgres or S3 down, restarting, timing out,
 * or answering 5xx/429) rather than anything about the job's input: such an error passes once the service is
 * back, so a job that hit it is retried for as long as an outage may last (see `RetryPolicy`), never failed early.
 * Looks through `cause` chains and aggregate errors, since drivers wrap what the socket said.
 */
export function isTransientError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (!e || typeof e !== "object" || seen.has(e)) return false;
    seen.add(e);
    if (isTransientItself(e as ErrorLike)) return true;
    const { cause, errors } = e as ErrorLike;
    return visit(cause) || (Array.isArray(errors) && errors.some(visit));
  };
  return visit(err);
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** Socket and DNS failures (Node's net/dns, undici): the peer is down, restarting or unreachable now. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND", // a service's DNS name while its pods restart; image URLs never get here (the feature worker flags them)
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Postgres SQLSTATEs of a server going away or overloaded: 08xxx connection exceptions, 57P01-57P03 (shutting
 * down, crashed, starting up), 53xxx insufficient resources (too many connections), 40001/40P01 (serialization
 * failure, deadlock: the transaction may simply be run again).
 */
const PG_TRANSIENT = /^(08[0-9A-Z]{3}|57P0[1-3]|53[0-9A-Z]{3}|40001|40P01)$/;

/** Prisma's codes for a database it cannot reach or that dropped the connection, and pool timeouts. */
const PRISMA_TRANSIENT = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2034"]);

/** S3's names for "slow down" and "try later"; the SDK marks most of them `$retryable` too. */
const S3_TRANSIENT = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "SlowDown",
  "ServiceUnavailable",
  "InternalError",
  "ThrottlingException",
]);

/**
 * Messages without a code: pg's and Prisma's for a connection that ended, ioredis's and BullMQ's for a
 * connection that is down or reconnecting, Redis replies while it loads its AOF or fails over.
 */
const TRANSIENT_MESSAGES = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^timeout exceeded when trying to connect$/,
  /is not queryable$/, // pg: "Client has encountered a connection error and is not queryable"
  /^Can't reach database server/m,
  /^Connection is closed\.?$/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY) /,
  /^socket hang up$/,
];

function isTransientItself(e: ErrorLike): boolean {
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code && (NETWORK_CODES.has(code) || PG_TRANSIENT.test(code) || PRISMA_TRANSIENT.has(code))) return true;
  const name = typeof e.name === "string" ? e.name : "";
  if (name === "MaxRetriesPerRequestError" || S3_TRANSIENT.has(name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.$retryable) return true;
  const message = typeof e.message === "string" ? e.message.trim() : "";
  return TRANSIENT_MESSAGES.some((m) => m.test(message));
}
