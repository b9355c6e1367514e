import { labelsBodySchema } from "@lxtag/contracts";
import { normalizeHashtag } from "@lxtag/text";
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.js";
import { badRequest, notFound } from "../errors.js";
import { doc } from "./docs.js";

export function postRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { repos } = deps;
  const ownPost = async (id: string, apiKeyId: string) => {
    const post = /^[0-9a-f-]{36}$/i.test(id) ? await repos.results.post(id, apiKeyId) : null;
    if (!post) throw notFound("post", id);
    return post;
  };

  app.get<{ Params: { id: string } }>(
    "/v1/posts/:id",
    doc("posts", "One post with its labels and ranked hashtags"),
    async (req) => ownPost(req.params.id, req.apiKeyId),
  );

  app.post<{ Params: { id: string } }>(
    "/v1/posts/:id/labels",
    doc("posts", "Correct a post's hashtags (used for training)", { body: labelsBodySchema }),
    async (req) => {
      const post = await ownPost(req.params.id, req.apiKeyId);
      const body = labelsBodySchema.safeParse(req.body);
      if (!body.success)
        throw badRequest(body.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
      await repos.labels.apply(
        post.id,
        body.data.add.map(normalizeHashtag),
        body.data.remove.map(normalizeHashtag),
      );
      return ownPost(post.id, req.apiKeyId);
    },
  );

  app.get("/v1/models", doc("models", "Model versions in the registry"), async () =>
    (await repos.models.list()).map(({ manifest: _m, ...m }) => m),
  );
}
