import { labelsBodySchema, postDetailSchema, thumbnailQuerySchema } from "@lxtag/contracts";
import { z } from "zod";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { PostService } from "../../services/posts.js";

const params = z.object({ id: z.uuid() });

/** Thumbnails change only with their image: a browser keeps them a day without asking, then revalidates. */
const THUMBNAIL_CACHE = "private, max-age=86400";

/** /v1/posts: one post, its thumbnail, and corrections of its hashtags. */
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

  app.get(
    "/:id/thumbnail",
    {
      schema: {
        tags: ["posts"],
        summary: "The post's image, resized (WebP)",
        description:
          "The stored image EXIF-rotated and resized to fit `size` (never enlarged), for the review desk's grid; " +
          "the original is never sent. Cacheable (ETag, `If-None-Match` answers 304). 404 `no_thumbnail` for a " +
          "post without a stored image that decodes (caption-only, video, missing or corrupt media, linked image).",
        params,
        querystring: thumbnailQuerySchema,
        response: {
          200: {
            description: "The thumbnail",
            content: { "image/webp": { schema: z.string().describe("WebP bytes") } },
          },
          304: z.null().describe("Not modified: the cached thumbnail is current (no body)"),
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      reply.header("cache-control", THUMBNAIL_CACHE);
      const tag = await posts.thumbnailTag(id, req.apiKey.id, req.query.size);
      if (req.headers["if-none-match"] === tag) return reply.code(304).header("etag", tag).send(null);
      const thumb = await posts.thumbnail(id, req.apiKey.id, req.query.size);
      return reply
        .header("etag", thumb.etag)
        .type(thumb.contentType)
        .send(thumb.body as never);
    },
  );
};
