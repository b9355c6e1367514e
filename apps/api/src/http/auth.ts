import type { ApiKeyIdentity } from "@lxtag/db";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { ForbiddenError, UnauthorizedError } from "../errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller's API key, set on every route of the /v1 scope (`identifyCaller`, then `requireKey`). */
    apiKey: ApiKeyIdentity;
  }
}

export interface ApiKeyVerifier {
  /** The key's id and admin flag, or null for an unknown or revoked key. */
  identify(key: string): Promise<ApiKeyIdentity | null>;
}

/** OpenAPI security schemes of the two ways to send a key. */
export const SECURITY_SCHEMES = {
  apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
  bearer: { type: "http", scheme: "bearer" },
} as const;
export const SECURITY: Record<string, string[]>[] = [{ apiKey: [] }, { bearer: [] }];

function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers["x-api-key"];
  const key = Array.isArray(header) ? header[0] : header;
  if (key) return key;
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  return bearer?.[1];
}

/**
 * onRequest hook: finds the caller's key (before the body is read) and leaves `req.apiKey` null for a missing,
 * unknown or revoked one, so that the rate limit between this hook and `requireKey` counts those requests too
 * (by address) before they are refused.
 */
export function identifyCaller(keys: ApiKeyVerifier): onRequestAsyncHookHandler {
  return async (req) => {
    const key = presentedKey(req);
    req.apiKey = (key ? await keys.identify(key) : null) as ApiKeyIdentity;
  };
}

/** onRequest hook after `identifyCaller`: refuses a request without a valid key, before its body streams. */
export const requireKey: onRequestAsyncHookHandler = async (req) => {
  if (!req.apiKey) throw new UnauthorizedError();
};

/** Both hooks in one, for a single route outside the /v1 scope. */
export function authenticate(keys: ApiKeyVerifier): onRequestAsyncHookHandler {
  const identify = identifyCaller(keys);
  return async function (this: unknown, req, reply) {
    await identify.call(this as never, req, reply);
    await requireKey.call(this as never, req, reply);
  };
}

/**
 * Route-level onRequest hook of the admin routes: runs after `authenticate` (a scope's hooks come first) and before
 * the body or parameters are read. The /v1 scope documents the 403 of every route that uses it.
 */
export const adminOnly: onRequestAsyncHookHandler = async (req) => {
  if (!req.apiKey.admin) throw new ForbiddenError();
};
