import { z } from "zod";

export const MAX_CAPTION_CHARS = 65_536;

/** One post of a programmatic (JSON) batch. `image` is an S3 key in the lxtag bucket or an https URL. */
export const jsonPostSchema = z.object({
  externalId: z.string().min(1).max(200).optional(),
  // length is checked when the post is built, so an over-long caption fails that post alone with its own reason
  caption: z.string(),
  image: z.string().min(1).max(2048).optional(),
});
export type JsonPost = z.infer<typeof jsonPostSchema>;

export const batchOptionsSchema = z.object({
  includeReels: z.boolean().default(true),
  includeArchived: z.boolean().default(false),
});
export type BatchOptions = z.infer<typeof batchOptionsSchema>;

/** JSON body of POST /v1/batches: inline posts, or zip parts already in S3. */
export const createBatchBodySchema = z.union([
  z.object({ posts: z.array(z.unknown()).min(1).max(100_000), options: batchOptionsSchema.optional() }),
  z.object({ s3Keys: z.array(z.string().min(1)).min(1).max(64), options: batchOptionsSchema.optional() }),
]);
export type CreateBatchBody = z.infer<typeof createBatchBodySchema>;

/** Where a batch's input lives; stored on the batch row. */
export const batchSourceSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("zip"), keys: z.array(z.string()).min(1) }),
  z.object({ type: z.literal("json"), key: z.string() }),
]);
export type BatchSource = z.infer<typeof batchSourceSchema>;

export const labelsBodySchema = z.object({
  add: z.array(z.string().min(1).max(150)).max(200).default([]),
  remove: z.array(z.string().min(1).max(150)).max(200).default([]),
});
export type LabelsBody = z.infer<typeof labelsBodySchema>;

export const POST_STATES = ["pending", "featurizing", "predicting", "done", "failed"] as const;
export type PostStateName = (typeof POST_STATES)[number];

export const listPostsQuerySchema = z.object({
  state: z.enum(POST_STATES).optional(),
  cursor: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
