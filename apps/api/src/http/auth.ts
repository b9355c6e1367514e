import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { UnauthorizedError } from "../errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller's API key id, set by `authenticate` on every route of the /v1 scope. */
    apiKeyId: string;
  }
}

export interface ApiKeyVerifier {
  /** The key's id, or null for an unknown or revoked key. */
  verify(key: string): Promise<string | null>;
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
    const id = key ? await keys.verify(key) : null;
    if (!id) throw new UnauthorizedError();
    req.apiKeyId = id;
  };
}
