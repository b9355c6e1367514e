import type { ApiKeyIdentity } from "@lxtag/db";
import { type ApiKeyVerifier, adminOnly, identifyCaller, requireKey, SECURITY } from "../../http/auth.js";
import { type RateLimitOptions, rateLimitHook } from "../../http/rate-limit.js";
import { forbiddenResponse, rateLimitedResponse, unauthorizedResponse } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { ApiServices } from "../../services/index.js";
import { batchListRoutes } from "./batch-list.js";
import { batchRoutes } from "./batches.js";
import { modelRoutes } from "./models.js";
import { postRoutes } from "./posts.js";
import { trainingRunRoutes } from "./training-runs.js";
import { vocabularyRoutes } from "./vocabulary.js";

export interface V1Options {
  services: ApiServices;
  apiKeys: ApiKeyVerifier;
  maxPartBytes: number;
  /** Largest JSON body of POST /v1/batches, bytes (LXTAG_API_BODY_LIMIT). */
  maxJsonBytes: number;
  rateLimit: RateLimitOptions;
}

/**
 * The authenticated API. The key check is a hook of this scope, so it covers every route registered here (whatever
 * URL spelling reaches them) and none outside; the routes' documentation says so too, and says which routes need
 * an admin key (those with the `adminOnly` hook). Between finding the key and refusing a request without one, the
 * rate limit counts the request: per key, or per address without a valid key.
 */
export const v1Routes: ApiPlugin<V1Options> = async (app, options) => {
  const { services, apiKeys, maxPartBytes, maxJsonBytes } = options;
  // a placeholder for V8's object shape: `identifyCaller` sets the key (or null) before any handler runs
  app.decorateRequest("apiKey", null as unknown as ApiKeyIdentity);
  app.addHook("onRequest", identifyCaller(apiKeys));
  app.addHook("onRequest", await rateLimitHook(app, options.rateLimit));
  app.addHook("onRequest", requireKey);
  app.addHook("onRoute", (route) => {
    const admin = [route.onRequest].flat().includes(adminOnly);
    route.schema = {
      ...route.schema,
      security: SECURITY,
      response: {
        ...(route.schema?.response as object),
        401: unauthorizedResponse,
        429: rateLimitedResponse,
        ...(admin ? { 403: forbiddenResponse } : {}),
      },
    };
  });

  await app.register(batchRoutes, {
    prefix: "/batches",
    batches: services.batches,
    relabel: services.relabel,
    maxPartBytes,
    maxJsonBytes,
  });
  await app.register(batchListRoutes, { prefix: "/batches", batches: services.batches });
  await app.register(postRoutes, { prefix: "/posts", posts: services.posts });
  await app.register(modelRoutes, { prefix: "/models", models: services.models });
  await app.register(trainingRunRoutes, { prefix: "/training-runs", trainingRuns: services.trainingRuns });
  await app.register(vocabularyRoutes, { prefix: "/vocabulary", vocabulary: services.vocabulary });
};
