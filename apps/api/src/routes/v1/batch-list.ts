import { batchesPageSchema, listBatchesQuerySchema } from "@lxtag/contracts";
import { z } from "zod";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { BatchService } from "../../services/batches.js";
import { LABELS_CSV_HEADER, labelsCsv } from "../../services/labels-csv.js";

const params = z.object({ id: z.uuid() });

/** /v1/batches, read side beside `batchRoutes`: the key's batches, and a batch's corrected labels. */
export const batchListRoutes: ApiPlugin<{ batches: BatchService }> = async (app, { batches }) => {
  app.get(
    "", // the prefix itself, without a trailing slash
    {
      schema: {
        tags: ["batches"],
        summary: "The key's batches, newest first, each with its summary",
        querystring: listBatchesQuerySchema,
        response: { 200: batchesPageSchema, ...errorResponses(400) },
      },
    },
    async (req) => batches.list(req.apiKey.id, req.query),
  );

  app.get(
    "/:id/labels",
    {
      schema: {
        tags: ["batches"],
        summary: "The batch's human corrections as CSV",
        description:
          "One row per post and corrected hashtag, in post order: `add` or `remove`, the reviewer, and when. " +
          "Caption hashtags are not corrections: the results carry them as `labels`.",
        params,
        response: {
          200: {
            description: "The batch's corrections",
            content: { "text/csv": { schema: z.string().describe(LABELS_CSV_HEADER.trim()) } },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const rows = await batches.labels(req.params.id, req.apiKey.id);
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="labels-${req.params.id}.csv"`)
        .send(labelsCsv(rows) as never);
    },
  );
};
