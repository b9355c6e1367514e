import type { ApiKeyIdentity } from "@lxtag/db";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { ForbiddenError, UnauthorizedError } from "../errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller's API key, set by `authenticate` on every route of the /v1 scope. */
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

/** onRequest hook: runs before the body is read, so an unauthenticated upload is refused before it streams. */
export function authenticate(keys: ApiKeyVerifier): onRequestAsyncHookHandler {
  return async (req) => {
    const key = presentedKey(req);
    const identity = key ? await keys.identify(key) : null;
    if (!identity) throw new UnauthorizedError();
    req.apiKey = identity;
  };
}

/**
 * Route-level onRequest hook of the admin routes: runs after `authenticate` (a scope's hooks come first) and before
 * the body or parameters are read. The /v1 scope documents the 403 of every route that uses it.
 */
export const adminOnly: onRequestAsyncHookHandler = async (req) => {
  if (!req.apiKey.admin) throw new ForbiddenError();
};
