import {
  activateModelQuerySchema,
  modelDetailSchema,
  modelVersionSchema,
  plainTextSchema,
} from "@lxtag/contracts";
import { z } from "zod";
import { adminOnly } from "../../http/auth.js";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { ModelService } from "../../services/models.js";

const params = z.object({ id: plainTextSchema(200) });

/** /v1/models: the model registry; admin keys choose the serving version. */
export const modelRoutes: ApiPlugin<{ models: ModelService }> = async (app, { models }) => {
  app.get(
    "", // the prefix itself, without a trailing slash
    {
      schema: {
        tags: ["models"],
        summary: "Model versions, newest first",
        description:
          "An admin key sees every version in the registry; another key sees the versions that predicted posts " +
          "of its batches.",
        response: {
          200: z.array(modelVersionSchema).describe("Model versions, newest first"),
          ...errorResponses(),
        },
      },
    },
    async (req) => models.list(req.apiKey),
  );

  app.get(
    "/:id",
    {
      schema: {
        tags: ["models"],
        summary: "One model version: state, detector, metrics, hashtags, dataset",
        description: "404 for a version the key does not see (see GET /v1/models).",
        params,
        response: { 200: modelDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => models.find(req.params.id, req.apiKey),
  );

  app.post(
    "/:id/activate",
    {
      onRequest: adminOnly,
      schema: {
        tags: ["models"],
        summary: "Serve this version (admin keys only)",
        description:
          "The previous active version is retired; activating an older version rolls back. Refused (409) when the " +
          "version's detector is not the serving detector (`detectors/current.json`): its features would differ " +
          "(`detector_mismatch`); and when a predict worker refused the version, having failed to warm it up " +
          "(`model_refused`), unless `force=true`: that clears the refusal, and workers try the version anew.",
        params,
        querystring: activateModelQuerySchema,
        response: { 200: modelDetailSchema, ...errorResponses(400, 404, 409) },
      },
    },
    async (req) => models.activate(req.params.id, req.apiKey, req.query),
  );
};
