import type { Registry } from "prom-client";
import { z } from "zod";
import type { ApiDeps } from "../deps.js";
import { errorResponses } from "../http/responses.js";
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

/** What operators and their tools read: Prometheus metrics and queue backlogs. */
export const operationsRoutes: ApiPlugin<{ queues: ApiDeps["queues"]; metrics: Registry }> = async (
  app,
  { queues, metrics },
) => {
  app.get(
    "/queues",
    {
      schema: {
        tags: ["operations"],
        summary: "Job counts and backlog per queue",
        response: {
          200: z.record(z.string(), queueCountsSchema).describe("Counts per queue name"),
          ...errorResponses(),
        },
      },
    },
    async () => queueBacklog(queues),
  );

  app.get(
    "/metrics",
    {
      schema: {
        tags: ["operations"],
        summary: "Prometheus metrics",
        response: {
          200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } },
          ...errorResponses(),
        },
      },
    },
    async (_req, reply) => reply.header("content-type", metrics.contentType).send(await metrics.metrics()),
  );
};
