import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { ApiDeps } from "./deps.js";
import { ApiError, unauthorized } from "./errors.js";
import { batchRoutes } from "./routes/batches.js";
import { healthRoutes } from "./routes/health.js";
import { postRoutes } from "./routes/posts.js";

declare module "fastify" {
  interface FastifyRequest {
    apiKeyId: string;
  }
}

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.config.LXTAG_API_BODY_LIMIT,
  });
  await app.register(multipart, {
    limits: { fileSize: deps.config.LXTAG_UPLOAD_MAX_BYTES, files: 64, fields: 8 },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "lxtag API", version: "1", description: "Bulk hashtag labeling for Instagram exports" },
      components: { securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "x-api-key" } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  // zod validates in the handlers (one schema per body, shared with clients); route schemas only document
  app.setValidatorCompiler(() => () => true);
  app.decorateRequest("apiKeyId", "");
  app.addHook("onRequest", async (req) => {
    if (!req.url.startsWith("/v1/")) return;
    const header = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer\s+/i, "");
    const key = Array.isArray(header) ? header[0] : header;
    const id = key ? await deps.repos.apiKeys.verify(key) : null;
    if (!id) throw unauthorized();
    req.apiKeyId = id;
  });

  app.setErrorHandler((err: Error, req, reply) => {
    if (err instanceof ApiError)
      return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status < 500)
      return reply
        .code(status)
        .send({ error: (err as { code?: string }).code ?? "bad_request", message: err.message });
    req.log.error({ err }, "request failed");
    return reply.code(500).send({ error: "internal", message: "internal error" }); // 5xx details stay in the log
  });

  healthRoutes(app, deps);
  batchRoutes(app, deps);
  postRoutes(app, deps);
  return app;
}
