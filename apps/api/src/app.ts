import Fastify, { type FastifyBaseLogger } from "fastify";
import { serializerCompiler } from "fastify-type-provider-zod";
import { configuredKeys } from "./config.js";
import type { ApiDeps } from "./deps.js";
import { ConfiguredKeysFilter } from "./http/configured-keys.js";
import { registerDesk } from "./http/desk.js";
import { registerErrorHandling } from "./http/error-handler.js";
import { CachedKeyVerifier } from "./http/key-cache.js";
import { registerOpenApi } from "./http/openapi.js";
import { type ApiTypeProvider, validatorCompiler } from "./http/zod-schemas.js";
import { healthRoutes } from "./routes/health.js";
import { operationsRoutes } from "./routes/operations.js";
import { v1Routes } from "./routes/v1/index.js";
import { createServices } from "./services/index.js";

/**
 * Largest body parsed whole: labels, a training run's settings. A batch's JSON body is streamed to disk instead,
 * up to LXTAG_API_BODY_LIMIT; 64 MiB parsed whole took hundreds of MiB, and any key could send it to any route.
 */
const PARSED_BODY_LIMIT = 2 ** 20;

/** The API over its dependencies: documentation first (it sees every route), then the routes. */
export async function buildApp(deps: ApiDeps) {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: PARSED_BODY_LIMIT,
  }).withTypeProvider<ApiTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  await registerOpenApi(app);

  const services = createServices(deps);
  const listed = configuredKeys(deps.config).map((k) => k.key);
  const apiKeys = new CachedKeyVerifier(
    new ConfiguredKeysFilter(deps.repos.apiKeys, listed),
    deps.config.LXTAG_API_KEY_CACHE_MS,
  );
  await registerDesk(app);
  await app.register(healthRoutes, { deps });
  await app.register(operationsRoutes, {
    queues: deps.queues,
    metrics: services.metrics,
    apiKeys,
  });
  await app.register(v1Routes, {
    prefix: "/v1",
    services,
    apiKeys,
    maxPartBytes: deps.config.LXTAG_UPLOAD_MAX_BYTES,
    maxJsonBytes: deps.config.LXTAG_API_BODY_LIMIT,
    rateLimit: {
      redis: deps.redis,
      prefix: deps.config.LXTAG_QUEUE_PREFIX,
      keyMax: deps.config.LXTAG_RATE_LIMIT_MAX,
      anonymousMax: deps.config.LXTAG_RATE_LIMIT_ANONYMOUS_MAX,
      windowMs: deps.config.LXTAG_RATE_LIMIT_WINDOW_MS,
    },
  });
  return app;
}
export type App = Awaited<ReturnType<typeof buildApp>>;
