import { z } from "zod";
import type { ApiDeps } from "../deps.js";
import { errorResponses } from "../http/responses.js";
import type { ApiPlugin } from "../http/types.js";
import { readiness } from "../services/readiness.js";

const checkState = z.enum(["ok", "unavailable"]);
const readinessSchema = z.object({
  ok: z.boolean(),
  checks: z.object({ postgres: checkState, redis: checkState, s3: checkState }),
});

/** Liveness (the process answers) and readiness (its dependencies answer). */
export const healthRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["operations"],
        summary: "The process is up",
        response: {
          200: z.object({ ok: z.literal(true) }).describe("The process answers"),
          ...errorResponses(),
        },
      },
    },
    async () => ({ ok: true as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["operations"],
        summary: "Postgres, Redis and S3 answer",
        response: {
          200: readinessSchema.describe("Every dependency answers"),
          503: readinessSchema.describe("A dependency does not answer (the reason is in the server log)"),
          ...errorResponses(),
        },
      },
    },
    async (_req, reply) => {
      const r = await readiness(deps);
      return reply.code(r.ok ? 200 : 503).send(r);
    },
  );
};
