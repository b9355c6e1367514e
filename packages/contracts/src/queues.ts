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

/** A training run: `runId` names a `queued` row the API created; a scheduled run has none and makes its own. */
export const trainingJobSchema = z.object({ runId: z.uuid().optional(), force: z.boolean().default(false) });
export type TrainingJob = z.infer<typeof trainingJobSchema>;

// BullMQ rejects custom ids containing ':'; ids derive from the post (or batch) so re-adding is a no-op.
export const jobIds = {
  ingest: (batchId: string) => `ingest-${batchId}`,
  features: (postId: string) => `features-${postId}`,
  predict: (postId: string) => `predict-${postId}`,
  training: (runId: string) => `training-${runId}`,
};
