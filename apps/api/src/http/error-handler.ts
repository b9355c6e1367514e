import type { ErrorBody } from "@lxtag/contracts";
import { ObjectNotFoundError } from "@lxtag/storage";
import type { FastifyError, FastifyInstance } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { ApiError, formatIssues, type Issue } from "../errors.js";

interface Mapped {
  status: number;
  body: ErrorBody;
}

// Fastify's and @fastify/multipart's own client errors, by code, where their status or wording needs help
const FRAMEWORK: Record<string, Mapped> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    body: { error: "invalid_json", message: "body is not valid JSON" },
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    body: { error: "invalid_json", message: "body is empty but content-type is application/json" },
  },
  // a multipart field sent with content-type application/json that does not parse (406 in the plugin)
  FST_INVALID_JSON_FIELD_ERROR: {
    status: 400,
    body: { error: "invalid_json", message: "a multipart field declared as JSON is not valid JSON" },
  },
};

const CODE_BY_STATUS: Record<number, string> = {
  400: "bad_request",
  404: "not_found",
  405: "method_not_allowed",
  406: "not_acceptable",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** The response for an error, or null when it is ours to fix (a 500). */
function clientError(err: FastifyError): Mapped | null {
  if (err instanceof ApiError)
    return { status: err.statusCode, body: { error: err.code, message: err.message } };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => ({
      path: v.instancePath.split("/").filter(Boolean),
      message: v.message ?? "invalid",
      errors: v.params.errors as Issue[][] | undefined,
    }));
    const part = err.validationContext ?? "request";
    return { status: 400, body: { error: "bad_request", message: formatIssues(issues, part) } };
  }
  // an s3Key that names no object: the caller's mistake
  if (err instanceof ObjectNotFoundError)
    return { status: 400, body: { error: "unknown_object", message: err.message } };
  const known = err.code ? FRAMEWORK[err.code] : undefined;
  if (known) return known;
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return { status, body: { error: CODE_BY_STATUS[status] ?? "bad_request", message: err.message } };
  return null;
}

/** One error handler and one 404 for the whole app: typed errors map to statuses; 5xx details stay in the log. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError && err.retryAfterSeconds !== undefined)
      reply.header("retry-after", String(err.retryAfterSeconds));
    const mapped = clientError(err);
    if (mapped) {
      // an outage the client is told to wait out is still ours to see
      if (mapped.status >= 500) req.log.warn({ err, route: req.routeOptions.url }, "request refused");
      return reply.code(mapped.status).send(mapped.body);
    }
    req.log.error({ err, method: req.method, url: req.url, route: req.routeOptions.url }, "request failed");
    return reply.code(500).send({ error: "internal", message: "internal error" } satisfies ErrorBody);
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", message: `no route ${req.method} ${req.url}` } satisfies ErrorBody),
  );
}
