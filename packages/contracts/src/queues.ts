import { z } from "zod";

/** Queue names; producers and consumers import these, never string literals. */
export const QUEUES = {
  ingest: "ingest",
  features: "features",
  predict: "predict",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const ingestJobSchema = z.object({ batchId: z.uuid() });
export type IngestJob = z.infer<typeof ingestJobSchema>;

export const featureJobSchema = z.object({ batchId: z.uuid(), postId: z.uuid() });
export type FeatureJob = z.infer<typeof featureJobSchema>;

export const predictJobSchema = z.object({ batchId: z.uuid(), postId: z.uuid() });
export type PredictJob = z.infer<typeof predictJobSchema>;

// BullMQ rejects custom ids containing ':'; ids derive from the post (or batch) so re-adding is a no-op.
export const jobIds = {
  ingest: (batchId: string) => `ingest-${batchId}`,
  features: (postId: string) => `features-${postId}`,
  predict: (postId: string) => `predict-${postId}`,
};
