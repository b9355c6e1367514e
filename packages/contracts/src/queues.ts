import { z } from "zod";

/** Queue names; producers and consumers import these, never string literals. */
export const QUEUES = {
  ingest: "ingest",
  features: "features",
  predict: "predict",
  /** Training runs asked for by the API or the trainer's schedule; the trainer service takes them one at a time. */
  training: "training",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const ingestJobSchema = z.object({ batchId: z.uuid() });
export type IngestJob = z.infer<typeof ingestJobSchema>;

export const featureJobSchema = z.object({ batchId: z.uuid(), postId: z.uuid() });
export type FeatureJob = z.infer<typeof featureJobSchema>;

export const predictJobSchema = z.object({ batchId: z.uuid(), postId: z.uuid() });
export type PredictJob = z.infer<typeof predictJobSchema>;

/**
 * Re-predicting posts of a finished batch with the model `modelVersion` (the active one when it was asked for),
 * from their cached RoI objects: several posts per job, on the predict queue (job name `relabel`).
 */
export const relabelJobSchema = z.object({
  batchId: z.uuid(),
  modelVersion: z.string().min(1),
  postIds: z.array(z.uuid()).min(1).max(1000),
});
export type RelabelJob = z.infer<typeof relabelJobSchema>;
/** Posts per relabel job: few Redis round trips per post, small enough that a retry redoes little. */
export const RELABEL_POSTS_PER_JOB = 64;

/** A training run: `runId` names a `queued` row the API created; a scheduled run has none and makes its own. */
export const trainingJobSchema = z.object({ runId: z.uuid().optional(), force: z.boolean().default(false) });
export type TrainingJob = z.infer<typeof trainingJobSchema>;

/**
 * The flag of a post sent back to featurization (once) because its image had no RoI object for the serving model's
 * detector; its second round of jobs has the ids `jobIds.refeaturize` and `jobIds.repredict`.
 */
export const REFEATURIZED_FLAG = "refeaturized";

/** A detector id as a job id part: BullMQ refuses ':' (an operator's LXTAG_DETECTOR_ID may hold one). */
const idPart = (detectorId: string) => detectorId.replaceAll(":", "_");

// BullMQ rejects custom ids containing ':'; ids derive from the post (or batch) so re-adding is a no-op.
export const jobIds = {
  ingest: (batchId: string) => `ingest-${batchId}`,
  features: (postId: string) => `features-${postId}`,
  predict: (postId: string) => `predict-${postId}`,
  training: (runId: string) => `training-${runId}`,
  /**
   * A post sent back to featurization because no RoI object exists for the model's detector `detectorId`: its
   * first features job is kept for a while after it completed, and BullMQ never re-adds an existing id.
   */
  refeaturize: (postId: string, detectorId: string) => `features-${postId}-${idPart(detectorId)}`,
  /**
   * Part `part` of relabel request `requestId` of a batch with model `modelVersion`: never a prediction's id, and
   * a new request (a rollback to a model that relabeled the batch before) is never a no-op.
   */
  relabel: (batchId: string, modelVersion: string, requestId: string, part: number) =>
    `relabel-${batchId}-${idPart(modelVersion)}-${requestId}-${part}`,
  /** The prediction of a re-featurized post, featurized by the detector `detectorId` (as for `refeaturize`). */
  repredict: (postId: string, detectorId: string) => `predict-${postId}-${idPart(detectorId)}`,
};
