import { describe, expect, it } from "vitest";
import { isTransientError } from "./transient.js";

const err = (message: string, fields: object = {}) => Object.assign(new Error(message), fields);

describe("isTransientError", () => {
  // each shape as the drivers throw it (seen against real Redis, Postgres and s3rver behind a cut TCP proxy)
  it.each([
    ["a refused connection (pg, S3)", err("connect ECONNREFUSED 127.0.0.1:5432", { code: "ECONNREFUSED" })],
    ["a reset socket", err("read ECONNRESET", { code: "ECONNRESET" })],
    ["pg: a connection that ended mid-query", err("Connection terminated unexpectedly")],
    [
      "Postgres shutting down (57P01)",
      err("terminating connection due to administrator command", { code: "57P01" }),
    ],
    ["Postgres starting up (57P03)", err("the database system is starting up", { code: "57P03" })],
    ["a connection exception (08006)", err("connection failure", { code: "08006" })],
    ["too many connections (53300)", err("sorry, too many clients already", { code: "53300" })],
    [
      "Prisma: server unreachable (P1001)",
      err("\nInvalid `prisma.x.findMany()` invocation:\n\nCan't reach database server", { code: "P1001" }),
    ],
    ["Prisma: pool timeout (P2024)", err("Timed out fetching a new connection", { code: "P2024" })],
    ["ioredis: no offline queue", err("Stream isn't writeable and enableOfflineQueue options is false")],
    ["ioredis: closed connection", err("Connection is closed.")],
    ["Redis loading its AOF", err("LOADING Redis is loading the dataset in memory")],
    [
      "S3 503",
      err("Service Unavailable", { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } }),
    ],
    [
      "S3 500 from any name",
      err("We encountered an internal error", { name: "Unknown", $metadata: { httpStatusCode: 500 } }),
    ],
    ["S3 throttling", err("slow down", { name: "SlowDown", $metadata: { httpStatusCode: 503 } })],
    ["an SDK timeout", err("Connection timed out after 5000 ms", { name: "TimeoutError" })],
    ["a wrapped cause", err("featurizing failed", { cause: err("read ECONNRESET", { code: "ECONNRESET" }) })],
    [
      "an aggregate",
      new AggregateError([err("x"), err("connect ECONNREFUSED ::1:6379", { code: "ECONNREFUSED" })]),
    ],
  ])("transient: %s", (_label, e) => {
    expect(isTransientError(e)).toBe(true);
  });

  it.each([
    ["a plain bug", new TypeError("cannot read properties of undefined")],
    ["a constraint violation", err("duplicate key value violates unique constraint", { code: "23505" })],
    ["a syntax error", err("syntax error at or near", { code: "42601" })],
    ["S3 403", err("Access Denied", { name: "AccessDenied", $metadata: { httpStatusCode: 403 } })],
    ["S3 404", err("not found", { name: "NoSuchKey", $metadata: { httpStatusCode: 404 } })],
    ["not an error at all", "ECONNREFUSED"],
    ["nothing", undefined],
  ])("not transient: %s", (_label, e) => {
    expect(isTransientError(e)).toBe(false);
  });

  it("survives a cause cycle", () => {
    const a = err("a");
    const b = err("b", { cause: a });
    Object.assign(a, { cause: b });
    expect(isTransientError(a)).toBe(false);
  });
});
