import { z } from "zod";

export const MAX_CAPTION_CHARS = 65_536;

export const BATCH_STATES = ["queued", "ingesting", "processing", "done", "failed"] as const;
export type BatchStateName = (typeof BATCH_STATES)[number];

export const POST_STATES = ["pending", "featurizing", "predicting", "done", "failed"] as const;
export type PostStateName = (typeof POST_STATES)[number];

export const MODEL_STATES = ["candidate", "active", "retired"] as const;
export type ModelStateName = (typeof MODEL_STATES)[number];

/** An ISO 8601 timestamp on the wire and a `Date` in code: a server encodes its Dates, a client's parse decodes. */
export const isoDateSchema = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (s) => new Date(s),
  encode: (d) => d.toISOString(),
});

// ---- requests -------------------------------------------------------------------------------------------------

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
  /**
   * Whether the trainer may learn from this batch's posts (their caption hashtags and human labels). Batches
   * stored before this option existed allow it too. @defaultValue true
   */
  allowTraining: z
    .boolean()
    .default(true)
    .describe("whether the trainer may learn from this batch's captions and labels"),
});
export type BatchOptions = z.infer<typeof batchOptionsSchema>;

/** JSON body of POST /v1/batches: inline posts, or zip parts already in S3. */
export const createBatchBodySchema = z.union(
  [
    z.object({
      // items are checked one by one at ingest, so a malformed post fails alone, with its reason
      posts: z.array(z.unknown()).min(1).max(100_000).describe("JsonPost objects"),
      options: batchOptionsSchema.optional(),
    }),
    z.object({
      s3Keys: z.array(z.string().min(1)).min(1).max(64).describe("zip parts in the lxtag bucket, in order"),
      options: batchOptionsSchema.optional(),
    }),
  ],
  { error: "expected {posts: [...]} or {s3Keys: [...]}" },
);
export type CreateBatchBody = z.infer<typeof createBatchBodySchema>;

/**
 * multipart/form-data body of POST /v1/batches, as documented: the API streams the parts (it never holds them in
 * memory), so it checks them as they arrive rather than with this schema.
 */
export const createBatchUploadSchema = z.object({
  file: z.array(z.file()).min(1).describe("zip parts of one Instagram export, repeated in order"),
  options: z.string().optional().describe("BatchOptions as JSON text"),
});

/** Where a batch's input lives; stored on the batch row. */
export const batchSourceSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("zip"), keys: z.array(z.string()).min(1) }),
  z.object({ type: z.literal("json"), key: z.string() }),
]);
export type BatchSource = z.infer<typeof batchSourceSchema>;

export const labelsBodySchema = z.object({
  add: z.array(z.string().min(1).max(150)).max(200).default([]),
  remove: z.array(z.string().min(1).max(150)).max(200).default([]),
  /** Who made the correction; stored with each label row it writes. */
  reviewer: z.string().min(1).max(100).optional().describe("who made the correction, e.g. a name or email"),
});
export type LabelsBody = z.infer<typeof labelsBodySchema>;

export const listPostsQuerySchema = z.object({
  state: z.enum(POST_STATES).optional(),
  /** The `seq` after which the page starts: a page's `nextCursor`. */
  cursor: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type ListPostsQuery = z.infer<typeof listPostsQuerySchema>;

export const RESULT_FORMATS = ["ndjson", "csv"] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export const resultsQuerySchema = z.object({
  /** Without it, `Accept: text/csv` selects CSV and anything else NDJSON. */
  format: z.enum(RESULT_FORMATS).optional(),
});

// ---- responses ------------------------------------------------------------------------------------------------

/** Every error the API answers: a stable code and a message for people. */
export const errorBodySchema = z
  .object({
    error: z.string().describe("stable code, e.g. bad_request, unauthorized, not_found"),
    message: z.string(),
  })
  .describe("An error");
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** 202 of POST /v1/batches: the batch exists; an ingest job parses it. */
export const acceptedBatchSchema = z
  .object({
    batchId: z.uuid(),
    state: z.literal("queued"),
    links: z.object({ self: z.string() }),
  })
  .describe("The batch is created and queued for ingest");
export type AcceptedBatch = z.infer<typeof acceptedBatchSchema>;

export const batchSummarySchema = z
  .object({
    id: z.uuid(),
    state: z.enum(BATCH_STATES),
    totalPosts: z.number().int(),
    /** Posts per state (every state, zeros included). */
    counts: z.record(z.string(), z.number().int()),
    /** Share of posts in a final state, 0..1. */
    progress: z.number(),
    createdAt: isoDateSchema,
    ingestedAt: isoDateSchema.nullable(),
    finishedAt: isoDateSchema.nullable(),
    error: z.string().nullable(),
    warnings: z.array(z.string()),
    /** Failed posts by reason (the text before the first ':' of their error), most frequent first. */
    errors: z.array(z.object({ reason: z.string(), count: z.number().int() })),
  })
  .describe("A batch: state, counts, progress, timings, errors");
export type BatchSummary = z.infer<typeof batchSummarySchema>;

export const rankedHashtagSchema = z.object({
  hashtag: z.string(),
  score: z.number(),
  rank: z.number().int(),
});

/** A post with its labels and the newest model's ranked hashtags (one NDJSON line of the results). */
export const postResultSchema = z.object({
  id: z.uuid(),
  seq: z.number().int(),
  externalId: z.string().nullable(),
  kind: z.string(),
  state: z.enum(POST_STATES),
  error: z.string().nullable(),
  caption: z.string(),
  flags: z.array(z.string()),
  labels: z.array(z.string()),
  modelVersion: z.string().nullable(),
  hashtags: z.array(rankedHashtagSchema),
});
export type PostResult = z.infer<typeof postResultSchema>;

/** GET /v1/posts/:id: a post and its batch. */
export const postDetailSchema = postResultSchema
  .extend({ batchId: z.uuid() })
  .describe("A post with its labels and ranked hashtags");
export type PostDetail = z.infer<typeof postDetailSchema>;

export const postsPageSchema = z
  .object({
    posts: z.array(postResultSchema),
    /** Pass as `cursor` for the next page; null on the last one. */
    nextCursor: z.number().int().nullable(),
  })
  .describe("A page of posts in seq order");
export type PostsPage = z.infer<typeof postsPageSchema>;

/** A model version in the registry (its manifest stays in the bundle). */
export const modelVersionSchema = z.object({
  id: z.string(),
  architecture: z.string(),
  state: z.enum(MODEL_STATES),
  bundlePrefix: z.string(),
  detectorId: z.string(),
  /** Number of hashtags the model ranks. */
  hashtags: z.number().int(),
  metrics: z.record(z.string(), z.unknown()),
  createdAt: isoDateSchema,
  activatedAt: isoDateSchema.nullable(),
});
export type ModelVersionEntry = z.infer<typeof modelVersionSchema>;

/** GET /v1/models/:id: a version with what its manifest says about it. */
export const modelDetailSchema = modelVersionSchema
  .extend({
    /** The hashtags the model ranks, in the order of its outputs. */
    hashtagNames: z.array(z.string()),
    /** What the model was trained on, as the trainer recorded it (the manifest's `dataset`). */
    dataset: z.record(z.string(), z.unknown()),
  })
  .describe("A model version: state, detector, metrics, hashtags and dataset");
export type ModelDetail = z.infer<typeof modelDetailSchema>;
