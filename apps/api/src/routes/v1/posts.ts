import { labelsBodySchema, postDetailSchema } from "@lxtag/contracts";
import { z } from "zod";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { PostService } from "../../services/posts.js";

const params = z.object({ id: z.uuid() });

/** /v1/posts: one post, and corrections of its hashtags. */
export const postRoutes: ApiPlugin<{ posts: PostService }> = async (app, { posts }) => {
  app.get(
    "/:id",
    {
      schema: {
        tags: ["posts"],
        summary: "One post with its labels and ranked hashtags",
        params,
        response: { 200: postDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => posts.find(req.params.id, req.apiKey.id),
  );

  app.post(
    "/:id/labels",
    {
      schema: {
        tags: ["posts"],
        summary: "Correct a post's hashtags (used for training)",
        params,
        body: labelsBodySchema,
        response: { 200: postDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => posts.label(req.params.id, req.apiKey.id, req.body),
  );
};
