import {
  acceptedTrainingRunSchema,
  createTrainingRunBodySchema,
  listTrainingRunsQuerySchema,
  trainingRunDetailSchema,
  trainingRunsPageSchema,
} from "@lxtag/contracts";
import { z } from "zod";
import { adminOnly } from "../../http/auth.js";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { TrainingRunService } from "../../services/training-runs.js";

const params = z.object({ id: z.uuid() });

/** /v1/training-runs (admin keys only): ask the trainer for a run, and read the runs' history. */
export const trainingRunRoutes: ApiPlugin<{ trainingRuns: TrainingRunService }> = async (
  app,
  { trainingRuns },
) => {
  app.get(
    "", // the prefix itself, without a trailing slash
    {
      onRequest: adminOnly,
      schema: {
        tags: ["training"],
        summary: "Training runs, newest first (admin keys only)",
        description:
          "Each with its state, stage, timestamps, candidate model and decision in a line; no log.",
        querystring: listTrainingRunsQuerySchema,
        response: { 200: trainingRunsPageSchema, ...errorResponses(400) },
      },
    },
    async (req) => trainingRuns.page(req.query),
  );

  app.get(
    "/:id",
    {
      onRequest: adminOnly,
      schema: {
        tags: ["training"],
        summary: "One training run: filter report, metrics, decision, timings, log tail (admin keys only)",
        params,
        response: { 200: trainingRunDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => trainingRuns.find(req.params.id),
  );

  app.post(
    "", // the prefix itself, without a trailing slash
    {
      onRequest: adminOnly,
      schema: {
        tags: ["training"],
        summary: "Ask for a training run (admin keys only)",
        description:
          "Records a queued run and a job on the training queue; answers 202 with its id. Runs already queued or " +
          "running do not refuse it: the trainer carries them out one at a time, in order. Without `force`, a run " +
          "with too little new labeled data since the last successful one ends `skipped`.",
        body: createTrainingRunBodySchema,
        response: { 202: acceptedTrainingRunSchema, ...errorResponses(400) },
      },
    },
    async (req, reply) => reply.code(202).send(await trainingRuns.request(req.apiKey, req.body)),
  );
};
