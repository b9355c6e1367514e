import { WAITING_FOR_FIRST_MODEL } from "@lxtag/db";
import { z } from "zod";
import type { ApiDeps } from "../deps.js";
import { errorResponses } from "../http/responses.js";
import type { ApiPlugin } from "../http/types.js";
import { readiness } from "../services/readiness.js";

const checkState = z.enum(["ok", "unavailable"]);
const readinessSchema = z.object({
  ok: z
    .boolean()
    .describe("Postgres, Redis and S3 answer (the model does not count: the API works without one)"),
  checks: z.object({ postgres: checkState, redis: checkState, s3: checkState }),
  model: z
    .enum(["ok", WAITING_FOR_FIRST_MODEL, "unavailable"])
    .describe(
      `"ok": a model version serves. "${WAITING_FOR_FIRST_MODEL}": none is active yet (a fresh install): uploads ` +
        "are taken and featurized, their posts wait for prediction, unfailed, until the trainer or an admin " +
        'activates one. "unavailable": the registry could not be read.',
    ),
});

/**
 * Liveness (the process answers) and readiness (its dependencies answer). A missing model leaves readiness 200:
 * the API itself works without one, so taking it out of a load balancer would only refuse uploads.
 */
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
        summary: "Postgres, Redis and S3 answer; whether a model serves",
        response: {
          200: readinessSchema.describe("Every dependency answers (with or without a model)"),
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
