import { type ModelVersionEntry, modelVersionSchema } from "@lxtag/contracts";
import type { ModelVersions } from "@lxtag/db";
import { z } from "zod";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";

/** /v1/models: the model registry. */
export const modelRoutes: ApiPlugin<{ models: Pick<ModelVersions, "list"> }> = async (app, { models }) => {
  app.get(
    "", // the prefix itself, without a trailing slash
    {
      schema: {
        tags: ["models"],
        summary: "Model versions in the registry, newest first",
        response: {
          200: z.array(modelVersionSchema).describe("Model versions, newest first"),
          ...errorResponses(),
        },
      },
    },
    async () =>
      // the manifest stays in the bundle; metrics are the manifest's metrics object
      (await models.list()).map(
        ({ manifest: _m, ...m }): ModelVersionEntry => ({
          ...m,
          metrics: m.metrics as ModelVersionEntry["metrics"],
        }),
      ),
  );
};
