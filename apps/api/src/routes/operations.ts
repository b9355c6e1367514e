import type { ApiKeyIdentity } from "@lxtag/db";
import type { Registry } from "prom-client";
import { z } from "zod";
import type { ApiDeps } from "../deps.js";
import { type ApiKeyVerifier, adminOnly, authenticate, SECURITY } from "../http/auth.js";
import { errorResponses, forbiddenResponse, unauthorizedResponse } from "../http/responses.js";
import type { ApiPlugin } from "../http/types.js";
import { queueBacklog } from "../services/queue-backlog.js";

const queueCountsSchema = z.object({
  waiting: z.number().int(),
  prioritized: z.number().int(),
  delayed: z.number().int(),
  active: z.number().int(),
  failed: z.number().int(),
  backlog: z.number().int().describe("waiting + prioritized + active: what an autoscaler scales on"),
});

export interface OperationsOptions {
  queues: ApiDeps["queues"];
  metrics: Registry;
  apiKeys: ApiKeyVerifier;
}

/**
 * What operators and their tools read: queue backlogs (the autoscaler) and Prometheus metrics. Both tell about
 * every key's work, so both need an admin key (KEDA and Prometheus send it as a bearer token).
 */
export const operationsRoutes: ApiPlugin<OperationsOptions> = async (app, { queues, metrics, apiKeys }) => {
  // the shape `authenticate` fills in, as in the /v1 scope
  app.decorateRequest("apiKey", null as unknown as ApiKeyIdentity);
  app.get(
    "/queues",
    {
      onRequest: [authenticate(apiKeys), adminOnly],
      schema: {
        tags: ["operations"],
        summary: "Job counts and backlog per queue (admin key)",
        description: "What KEDA scales the workers on: send an admin key as a bearer token.",
        security: SECURITY,
        response: {
          200: z.record(z.string(), queueCountsSchema).describe("Counts per queue name"),
          401: unauthorizedResponse,
          403: forbiddenResponse,
          ...errorResponses(),
        },
      },
    },
    async () => queueBacklog(queues),
  );

  app.get(
    "/metrics",
    {
      // the /v1 scope's key check, on this one route: the hooks run before anything is counted
      onRequest: [authenticate(apiKeys), adminOnly],
      schema: {
        tags: ["operations"],
        summary: "Prometheus metrics (admin key)",
        description:
          "Process, queue and post gauges over every key's batches, so only an admin key may read them: " +
          "scrape with `authorization: {credentials: <admin key>}` (a bearer token).",
        security: SECURITY,
        response: {
          200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } },
          401: unauthorizedResponse,
          403: forbiddenResponse,
          ...errorResponses(),
        },
      },
    },
    async (_req, reply) => reply.header("content-type", metrics.contentType).send(await metrics.metrics()),
  );
};
