export {
  type ApiKeyEntry,
  type ApiKeyIdentity,
  type ApiKeyOptions,
  ApiKeys,
  type EnsureKeyOptions,
} from "./api-keys.js";
export {
  Batches,
  type BatchSummary,
  DEGRADED,
  MODEL_REFUSED,
  WAITING_FOR_FIRST_MODEL,
} from "./batches.js";
export { applicationName, createDb, type Db, type DbOptions } from "./client.js";
export type { ModelVersion, TrainingRun, TrainingRunState } from "./generated/client.js";
export { type LabelOptions, type LabelRow, Labels } from "./labels.js";
export { MigrationError, migrate } from "./migrator.js";
export { ModelVersionNotFoundError, ModelVersionRefusedError, ModelVersions } from "./model-versions.js";
export {
  type NewMedia,
  type NewPost,
  type PostForFeatures,
  type PostForPredict,
  type PostInRange,
  Posts,
  postId,
  type RankedHashtag,
} from "./posts.js";
export { type PostPageQuery, type PostResult, Results, type ResultsPage } from "./results.js";
export { scratchDatabase } from "./scratch-database.js";
export { SessionLock } from "./session-lock.js";
export { TrainingExamples, type TrainingPost, type TrainingPostCounts } from "./training-examples.js";
export {
  TRAINING_LOG_TAIL_LINES,
  type TrainingRunFields,
  type TrainingRunOutcome,
  TrainingRuns,
} from "./training-runs.js";

import type { PostRange, PostStateName } from "@lxtag/contracts";
import { ApiKeys } from "./api-keys.js";
import { Batches } from "./batches.js";
import type { Db } from "./client.js";
import { Labels } from "./labels.js";
import { ModelVersions } from "./model-versions.js";
import { Posts } from "./posts.js";
import { Results } from "./results.js";
import { TrainingExamples } from "./training-examples.js";
import { TrainingRuns } from "./training-runs.js";

/** Every repository over one connection pool. */
export function repositories(db: Db) {
  return {
    apiKeys: new ApiKeys(db),
    batches: new Batches(db),
    posts: new Posts(db),
    results: new Results(db),
    labels: new Labels(db),
    models: new ModelVersions(db),
    trainingExamples: new TrainingExamples(db),
    trainingRuns: new TrainingRuns(db),
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

/**
 * The posts of a range whose job gave up, still in one of `states` (those it had not done), fail with its reason;
 * their batch completes if they were its last ones. Posts it did take further go on.
 */
export async function failRange(
  repos: Repositories,
  range: PostRange,
  states: PostStateName[],
  reason: string,
): Promise<void> {
  await repos.posts.failInRange(range, states, reason);
  await repos.batches.completeIfFinished([range.batchId]);
}
