export { ApiKeys } from "./api-keys.js";
export { Batches, type BatchSummary } from "./batches.js";
export { createDb, type Db, type DbOptions } from "./client.js";
export { Labels } from "./labels.js";
export { MigrationError, migrate } from "./migrator.js";
export { ModelVersions } from "./model-versions.js";
export {
  type NewMedia,
  type NewPost,
  type PostForFeatures,
  type PostForPredict,
  Posts,
  postId,
  type RankedHashtag,
} from "./posts.js";
export { type PostResult, Results } from "./results.js";

import { ApiKeys } from "./api-keys.js";
import { Batches } from "./batches.js";
import type { Db } from "./client.js";
import { Labels } from "./labels.js";
import { ModelVersions } from "./model-versions.js";
import { Posts } from "./posts.js";
import { Results } from "./results.js";

/** Every repository over one connection pool. */
export function repositories(db: Db) {
  return {
    apiKeys: new ApiKeys(db),
    batches: new Batches(db),
    posts: new Posts(db),
    results: new Results(db),
    labels: new Labels(db),
    models: new ModelVersions(db),
  };
}
export type Repositories = ReturnType<typeof repositories>;

/** A post that cannot be processed fails alone, with its reason; its batch completes if it was the last one. */
export async function failPost(
  repos: Repositories,
  job: { postId: string; batchId: string },
  reason: string,
): Promise<void> {
  await repos.posts.markFailed(job.postId, reason);
  await repos.batches.completeIfFinished([job.batchId]);
}
