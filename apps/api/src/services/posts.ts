import type { LabelsBody, PostDetail } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { normalizeHashtag } from "@lxtag/text";
import { NotFoundError } from "../errors.js";

/** One post of a key's batches, and human corrections of its hashtags. */
export class PostService {
  constructor(private readonly repos: Repositories) {}

  async find(id: string, apiKeyId: string): Promise<PostDetail> {
    const post = await this.repos.results.post(id, apiKeyId);
    if (!post) throw new NotFoundError("post", id);
    return post;
  }

  /** Applies labels (normalized like caption hashtags), with their reviewer, and answers the post as it is now. */
  async label(id: string, apiKeyId: string, body: LabelsBody): Promise<PostDetail> {
    const post = await this.find(id, apiKeyId);
    const [add, remove] = [body.add.map(normalizeHashtag), body.remove.map(normalizeHashtag)];
    await this.repos.labels.apply(post.id, add, remove, { reviewer: body.reviewer });
    return this.find(id, apiKeyId);
  }
}
