import { errorBodySchema } from "@lxtag/contracts";

const DESCRIPTIONS = {
  400: "Bad request: the input does not match its schema",
  401: "Missing or invalid API key",
  403: "The route needs an admin API key",
  404: "Not found (or another key's)",
  409: "Conflicts with the current state",
  413: "Upload or body too large",
  415: "Unsupported content type",
  429: "Too many requests for this key (or, without a valid key, this address); see Retry-After",
  503: "A dependency is unavailable; nothing was stored, retry after Retry-After seconds",
  500: "Internal error (details are in the server log)",
} as const;
export type ErrorStatus = keyof typeof DESCRIPTIONS;

const errorResponse = (status: ErrorStatus) => ({
  description: DESCRIPTIONS[status],
  content: { "application/json": { schema: errorBodySchema } },
});

/** Response schemas for the error statuses a route answers, and 500, which any route may answer. */
export function errorResponses<S extends ErrorStatus = never>(...statuses: S[]) {
  return Object.fromEntries([...statuses, 500].map((s) => [s, errorResponse(s as ErrorStatus)])) as Record<
    S | 500,
    ReturnType<typeof errorResponse>
  >;
}

/** Added to every route of the authenticated scope. */
export const unauthorizedResponse = errorResponse(401);
/** Added to every route of the authenticated scope (the rate limit). */
export const rateLimitedResponse = errorResponse(429);
/** Added to every admin route (`onRequest: adminOnly`). */
export const forbiddenResponse = errorResponse(403);
