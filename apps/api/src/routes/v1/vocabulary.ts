import { vocabularySchema } from "@lxtag/contracts";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { VocabularyService } from "../../services/vocabulary.js";

/** /v1/vocabulary: the hashtags a reviewer may add, for autocompletion. */
export const vocabularyRoutes: ApiPlugin<{ vocabulary: VocabularyService }> = async (app, { vocabulary }) => {
  app.get(
    "", // the prefix itself, without a trailing slash
    {
      schema: {
        tags: ["posts"],
        summary: "The hashtags the serving model ranks",
        description:
          "The active model's hashtags; without an active model, those of the newest model that predicted the " +
          "key's posts (`modelVersion` null and no hashtags when none did). Labels may name other hashtags too.",
        response: { 200: vocabularySchema, ...errorResponses() },
      },
    },
    async (req) => vocabulary.forKey(req.apiKey),
  );
};
