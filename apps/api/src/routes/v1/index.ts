import type { ApiKeyIdentity } from "@lxtag/db";
import { type ApiKeyVerifier, adminOnly, authenticate, SECURITY } from "../../http/auth.js";
import { forbiddenResponse, unauthorizedResponse } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { ApiServices } from "../../services/index.js";
import { batchRoutes } from "./batches.js";
import { modelRoutes } from "./models.js";
import { postRoutes } from "./posts.js";
import { trainingRunRoutes } from "./training-runs.js";

export interface V1Options {
  services: ApiServices;
  apiKeys: ApiKeyVerifier;
  maxPartBytes: number;
}

/**
 * The authenticated API. The key check is a hook of this scope, so it covers every route registered here (whatever
 * URL spelling reaches them) and none outside; the routes' documentation says so too, and says which routes need
 * an admin key (those with the `adminOnly` hook).
 */
export const v1Routes: ApiPlugin<V1Options> = async (app, { services, apiKeys, maxPartBytes }) => {
  // a placeholder for V8's object shape: `authenticate` sets the key before any handler runs
  app.decorateRequest("apiKey", null as unknown as ApiKeyIdentity);
  app.addHook("onRequest", authenticate(apiKeys));
  app.addHook("onRoute", (route) => {
    const admin = [route.onRequest].flat().includes(adminOnly);
    route.schema = {
      ...route.schema,
      security: SECURITY,
      response: {
        ...(route.schema?.response as object),
        401: unauthorizedResponse,
        ...(admin ? { 403: forbiddenResponse } : {}),
      },
    };
  });

  await app.register(batchRoutes, { prefix: "/batches", batches: services.batches, maxPartBytes });
  await app.register(postRoutes, { prefix: "/posts", posts: services.posts });
  await app.register(modelRoutes, { prefix: "/models", models: services.models });
  await app.register(trainingRunRoutes, { prefix: "/training-runs", trainingRuns: services.trainingRuns });
};
