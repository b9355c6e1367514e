import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { SECURITY_SCHEMES } from "./auth.js";
import { openApiTransform } from "./zod-schemas.js";

/** The OpenAPI document, generated from the routes' zod schemas: /docs (UI) and /docs/json. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: "lxtag API", version: "1", description: "Bulk hashtag labeling for Instagram exports" },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform: openApiTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}
