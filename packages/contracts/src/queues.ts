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

/**
 * Posts per features and predict job: the posts of a batch whose `seq` (their place in the export) lies in
 * `[fromSeq, fromSeq + size)`. One job, and so one round of Redis round trips, carries a range of posts instead
 * of one post; the range, not a list of ids, is what the job says, so a job id derives from it and the reconciler
 * finds a post's job from the post alone.
 */
export const POSTS_PER_JOB = 32;

/** A batch's posts `seq` in `[fromSeq, fromSeq + size)`: the workers read which of them are theirs from Postgres. */
export const postRangeSchema = z.object({
  batchId: z.uuid(),
  fromSeq: z.int().min(0),
  size: z.int().min(1).max(1000),
});
export type PostRange = z.infer<typeof postRangeSchema>;

/** The range of `POSTS_PER_JOB` posts the post at `seq` belongs to. */
export const postRangeOf = (batchId: string, seq: number): PostRange => ({
  batchId,
  fromSeq: seq - (seq % POSTS_PER_JOB),
  size: POSTS_PER_JOB,
});

/** One post's job: a post sent back to featurization, and jobs queued by lxtag before ranges (still read). */
export const postJobSchema = z.object({ batchId: z.uuid(), postId: z.uuid() });
export type PostJob = z.infer<typeof postJobSchema>;

/** A features job: a range of posts (the ingest's), or one post. */
export const featureJobSchema = z.union([postRangeSchema, postJobSchema]);
export type FeatureJob = z.infer<typeof featureJobSchema>;

/** A predict job: a range of posts (added by the feature worker once the range is featurized), or one post. */
export const predictJobSchema = z.union([postRangeSchema, postJobSchema]);
export type PredictJob = z.infer<typeof predictJobSchema>;

export const isPostRange = (job: PostRange | PostJob): job is PostRange => "fromSeq" in job;

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

/** A range as a job id part (the size is in it: ranges of another size are other jobs). */
const rangePart = (range: PostRange) => `${range.batchId}-${range.fromSeq}-${range.size}`;

// BullMQ rejects custom ids containing ':'; ids derive from the post, range or batch so re-adding is a no-op.
export const jobIds = {
  ingest: (batchId: string) => `ingest-${batchId}`,
  features: (range: PostRange) => `features-${rangePart(range)}`,
  predict: (range: PostRange) => `predict-${rangePart(range)}`,
  /**
   * The posts of a range that attempt `attempt` (0 the first) of its features job featurized before another of its
   * posts failed: they are predicted while that post's retry waits, and the range's own predict job comes once the
   * whole range is past featurization.
   */
  predictPart: (range: PostRange, attempt: number) => `predict-${rangePart(range)}-part-${attempt}`,
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

/** Whether `jobId` is one of `range`'s part predict jobs (`jobIds.predictPart`), whatever its attempt. */
export const isPredictPart = (range: PostRange, jobId: string | undefined): boolean =>
  jobId?.startsWith(`${jobIds.predict(range)}-part-`) ?? false;
