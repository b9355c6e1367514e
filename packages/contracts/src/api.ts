import { z } from "zod";

export const MAX_CAPTION_CHARS = 65_536;

export const BATCH_STATES = ["uploading", "queued", "ingesting", "processing", "done", "failed"] as const;
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

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const WITHOUT_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f]*$/;

/**
 * A short text a client names something by (a hashtag, a reviewer, a model id): no control characters, which no
 * such name holds, and NUL above all, which Postgres text cannot store.
 */
export const plainTextSchema = (maxLength: number) =>
  z.string().min(1).max(maxLength).regex(WITHOUT_CONTROL_CHARACTERS, "must not hold control characters");

/**
 * One post of a programmatic (JSON) batch. `image` is an https URL or an S3 key under the API key's own uploads
 * (`uploads/<apiKeyId>/`); any other key fails the post (`invalid-image`).
 */
export const jsonPostSchema = z.object({
  externalId: plainTextSchema(200).optional(),
  // length is checked when the post is built, so an over-long caption fails that post alone with its own reason
  caption: z.string(),
  image: plainTextSchema(2048).optional(),
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

/** Most posts a JSON body may hold (a JSON file in a multipart upload has no such limit). */
export const JSON_BODY_MAX_POSTS = 100_000;
/** What a JSON body of POST /v1/batches is, as its refusals say. */
export const CREATE_BATCH_BODY_SHAPE = "{posts: [...]} or {s3Keys: [...]}";

/** JSON body of POST /v1/batches: inline posts, or zip parts already in S3. */
export const createBatchBodySchema = z.union(
  [
    z.object({
      // items are checked one by one at ingest, so a malformed post fails alone, with its reason
      posts: z.array(z.unknown()).min(1).max(JSON_BODY_MAX_POSTS).describe("JsonPost objects"),
      options: batchOptionsSchema.optional(),
    }),
    z.object({
      s3Keys: z
        .array(z.string().min(1))
        .min(1)
        .max(64)
        .describe("zip parts in the lxtag bucket under uploads/<apiKeyId>/ (the key's own), in order"),
      options: batchOptionsSchema.optional(),
    }),
  ],
  { error: `expected ${CREATE_BATCH_BODY_SHAPE}` },
);
export type CreateBatchBody = z.infer<typeof createBatchBodySchema>;

/**
 * multipart/form-data body of POST /v1/batches, as documented: the API streams the parts (it never holds them in
 * memory), so it checks them as they arrive rather than with this schema.
 */
export const createBatchUploadSchema = z.object({
  file: z
    .array(z.file())
    .min(1)
    .describe(
      "zip parts of one Instagram export, repeated in order; or one JSON file of posts (application/json or a " +
        "name ending in .json): an array of JsonPost objects, or {posts: [...]}",
    ),
  options: z.string().optional().describe("BatchOptions as JSON text"),
});

/** Where a batch's input lives; stored on the batch row. */
export const batchSourceSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("zip"), keys: z.array(z.string()).min(1) }),
  z.object({ type: z.literal("json"), key: z.string() }),
]);
export type BatchSource = z.infer<typeof batchSourceSchema>;

export const labelsBodySchema = z.object({
  add: z.array(plainTextSchema(150)).max(200).default([]),
  remove: z.array(plainTextSchema(150)).max(200).default([]),
  /** Who made the correction; stored with each label row it writes. */
  reviewer: plainTextSchema(100).optional().describe("who made the correction, e.g. a name or email"),
});
export type LabelsBody = z.infer<typeof labelsBodySchema>;

/** `seq`: the export's order; `uncertainty`: scores nearest 0.5 first (the review queue: active learning). */
export const POST_ORDERS = ["seq", "uncertainty"] as const;
export type PostOrder = (typeof POST_ORDERS)[number];

/** A page token: `<seq>` in seq order, `<distance>:<seq>` in uncertainty order. */
const PAGE_TOKEN = /^(?:(?:0|[1-9]\d*)(?:\.\d+)?(?:e-\d+)?:)?\d{1,10}$/;

export const listPostsQuerySchema = z.object({
  state: z.enum(POST_STATES).optional(),
  /** The `seq` after which the page starts: a page's `nextCursor` (seq order only; `after` works in both). */
  cursor: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  flag: z.string().min(1).max(100).optional().describe("only posts with this flag, e.g. `caption-only`"),
  hashtag: z
    .string()
    .min(1)
    .max(150)
    .optional()
    .describe("only posts whose newest predictions rank this hashtag, or whose labels have it"),
  scoreBelow: z.coerce
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe("only posts whose best predicted score is below this (posts without predictions are left out)"),
  order: z
    .enum(POST_ORDERS)
    .optional()
    .describe(
      "`seq` (the export's order, the default) or `uncertainty`: posts whose scores lie nearest 0.5 first",
    ),
  after: z
    .string()
    .regex(PAGE_TOKEN, "expected a page's `next` token")
    .optional()
    .describe("a page's `next`: where the following page starts, in either order"),
});
export type ListPostsQuery = z.infer<typeof listPostsQuerySchema>;

export const listBatchesQuerySchema = z.object({
  /** The id of the last batch of the previous page: a page's `nextCursor`. */
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type ListBatchesQuery = z.infer<typeof listBatchesQuerySchema>;

export const thumbnailQuerySchema = z.object({
  /** The thumbnail's longer side, pixels; never larger than the stored image. @defaultValue 256 */
  size: z.coerce
    .number()
    .int()
    .min(16)
    .max(512)
    .default(256)
    .describe("the longer side in pixels, 16 to 512"),
});

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

/** 202 of POST /v1/batches/:id/relabel: the batch's finished posts are queued for the active model. */
export const relabelAcceptedSchema = z
  .object({
    batchId: z.uuid(),
    modelVersion: z.string().describe("the active model that relabels the posts"),
    posts: z.number().int().describe("posts queued: those done whose newest predictions are another model's"),
    jobs: z.number().int().describe("relabel jobs queued (several posts each)"),
    links: z.object({ self: z.string(), results: z.string() }),
  })
  .describe("The batch's finished posts are queued for the active model");
export type RelabelAccepted = z.infer<typeof relabelAcceptedSchema>;

export const batchSummarySchema = z
  .object({
    id: z.uuid(),
    state: z.enum(BATCH_STATES),
    totalPosts: z.number().int(),
    /**
     * Records of the upload merged into an identical earlier post (same external id, or same caption, image,
     * timestamp and media URIs); not in totalPosts.
     */
    duplicatePosts: z
      .number()
      .int()
      .describe("records merged into an identical earlier post of the batch (not counted in totalPosts)"),
    /** Posts per state (every state, zeros included). */
    counts: z.record(z.string(), z.number().int()),
    /**
     * Ingest progress: records of the export stored and enqueued so far, and how many it holds (null until its
     * posts files are parsed). Posts are processed while the rest of the export is still being read.
     */
    ingest: z
      .object({ postsRead: z.number().int(), postsTotal: z.number().int().nullable() })
      .describe("records of the upload read so far, of postsTotal (null until known)"),
    /** Share of posts in a final state, 0..1; while ingesting, of the records the export holds. */
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

export const batchesPageSchema = z
  .object({
    batches: z.array(batchSummarySchema),
    /** Pass as `cursor` for the next page; null on the last one. */
    nextCursor: z.uuid().nullable(),
  })
  .describe("A page of the key's batches, newest first");
export type BatchesPage = z.infer<typeof batchesPageSchema>;

/** GET /v1/vocabulary: the hashtags a reviewer may pick from. */
export const vocabularySchema = z
  .object({
    /** The active model; without one, the newest model that predicted the key's posts; null when none did. */
    modelVersion: z.string().nullable(),
    hashtags: z.array(z.string()),
  })
  .describe("The hashtags the serving model ranks");
export type Vocabulary = z.infer<typeof vocabularySchema>;

export const rankedHashtagSchema = z.object({
  hashtag: z.string(),
  score: z.number(),
  rank: z.number().int(),
  /** Whether the post's caption already has this hashtag (a suggestion to add is one where this is false). */
  inCaption: z.boolean().describe("whether the post's caption already has this hashtag"),
});

/**
 * A post with its labels and the newest model's ranked hashtags (one NDJSON line of the results). Beside lxtag's
 * `id`, what identifies the post in its source: `externalId` (JSON batches), and for exports `takenAt`, `mediaUris`
 * and `seq`, its position in the export, so results can be joined back.
 */
export const postResultSchema = z.object({
  id: z.uuid(),
  seq: z
    .number()
    .int()
    .describe(
      "position in the upload: the record's index in the export's posts files (in order) or in `posts`",
    ),
  externalId: z.string().nullable(),
  takenAt: isoDateSchema.nullable().describe("the export's creation timestamp of the post"),
  mediaUris: z
    .array(z.string())
    .describe("the export's media URIs of the post, in order (empty for JSON posts)"),
  kind: z.string(),
  state: z.enum(POST_STATES),
  error: z.string().nullable(),
  caption: z.string(),
  flags: z.array(z.string()),
  labels: z.array(z.string()),
  modelVersion: z.string().nullable(),
  previousModelVersion: z
    .string()
    .nullable()
    .describe(
      "the model whose predictions the newest replaced (a relabel keeps them); null when only one model predicted the post",
    ),
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
    /** Pass as `cursor` for the next page; null on the last one, and in uncertainty order. */
    nextCursor: z.number().int().nullable(),
    /** Pass as `after` for the next page, in either order; null on the last one. */
    next: z.string().nullable().describe("pass as `after` for the next page; null on the last one"),
  })
  .describe("A page of posts in seq order, or in uncertainty order");
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
  /**
   * Set when a predict worker refused the version: the version failed the worker's warm-up run (synthetic posts,
   * before it serves), so that worker does not serve it. The first refusal is kept; activating the version again
   * takes `force`, which clears it. For admin keys only, `by`: the worker's process, as its Postgres
   * `application_name`, and `reason`: its error (which may name the worker's paths). Null otherwise.
   */
  refusal: z
    .object({ at: isoDateSchema, by: z.string().optional(), reason: z.string().optional() })
    .nullable()
    .describe("a predict worker's refusal of the version (it failed the worker's warm-up run), or null"),
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

// ---- training runs --------------------------------------------------------------------------------------------

export const TRAINING_RUN_STATES = ["queued", "running", "done", "failed", "skipped"] as const;
export type TrainingRunStateName = (typeof TRAINING_RUN_STATES)[number];

/** Body of POST /v1/training-runs; strict, so a misspelt option is refused rather than ignored. */
/** POST /v1/models/:id/activate: a query, so that a plain activation needs no body. */
export const activateModelQuerySchema = z.strictObject({
  force: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .describe(
      "`true`: activate a version a predict worker refused, clearing the refusal (workers warm it up anew)",
    ),
});
export type ActivateModelQuery = z.infer<typeof activateModelQuerySchema>;

export const createTrainingRunBodySchema = z.strictObject({
  force: z
    .boolean()
    .default(false)
    .describe("train even when too little new labeled data arrived since the last successful run"),
});
export type CreateTrainingRunBody = z.infer<typeof createTrainingRunBodySchema>;

export const listTrainingRunsQuerySchema = z.object({
  /** The id of the last run of the previous page: a page's `nextCursor`. */
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type ListTrainingRunsQuery = z.infer<typeof listTrainingRunsQuerySchema>;

/** 202 of POST /v1/training-runs: the run is recorded as queued and a training job names it. */
export const acceptedTrainingRunSchema = z
  .object({
    runId: z.uuid(),
    state: z.literal("queued"),
    links: z.object({ self: z.string() }),
  })
  .describe("The run is recorded and queued for the trainer");
export type AcceptedTrainingRun = z.infer<typeof acceptedTrainingRunSchema>;

/** One k's scores on the test posts (CONTRACTS.md section 6); the keys are the engine's. */
export const rankingScoresSchema = z.object({
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  accuracy: z.number(),
  macro_precision: z.number(),
  macro_recall: z.number(),
  macro_f1: z.number(),
});

export type RankingScores = z.infer<typeof rankingScoresSchema>;

/** Scores by k, "1" to "5". */
export const rankingMetricsSchema = z
  .record(z.string(), rankingScoresSchema)
  .describe('scores by k, "1" to "5"');

export type RankingMetrics = z.infer<typeof rankingMetricsSchema>;

const modelScoresSchema = z.object({ id: z.string(), metrics: rankingMetricsSchema });
export type ModelScores = z.infer<typeof modelScoresSchema>;

/** Candidate, active model and popularity baseline scored on the same test posts, as the trainer stores them. */
export const trainingEvaluationSchema = z.object({
  split: z.literal("test"),
  posts: z.number().int(),
  /** Every true label of the test posts, in or out of any model's vocabulary. */
  labels: z.number().int(),
  /** sha256 of the test posts' ids in order: two runs compared the same posts when these agree. */
  postsSha256: z.string(),
  candidate: modelScoresSchema,
  /** Null when no model was active. */
  active: modelScoresSchema.nullable(),
  /** The most frequent training hashtags, the same ranking for every post. */
  popularity: z.object({ hashtags: z.array(z.string()), metrics: rankingMetricsSchema }),
  /**
   * The same models on the same posts, reading each caption with every hashtag removed (words included): what a
   * post that has no hashtags yet looks like. The blocks above read the model text (the paper's rule). Absent in
   * runs before it existed.
   */
  hashtagFree: z
    .object({
      candidate: modelScoresSchema,
      active: modelScoresSchema.nullable(),
      popularity: z.object({ hashtags: z.array(z.string()), metrics: rankingMetricsSchema }),
    })
    .optional(),
});
export type TrainingEvaluation = z.infer<typeof trainingEvaluationSchema>;

/** Model selection: every candidate the run trained, its validation scores, the one chosen and why. */
export const trainingSelectionSchema = z.object({
  /** Selection weighs F1@k (the gate's k) on the validation posts. */
  k: z.number().int(),
  candidates: z.array(
    z.object({
      /** As listed in LXTAG_TRAIN_CANDIDATES, e.g. `lxmert4hashtag+mask`. */
      name: z.string(),
      architecture: z.string(),
      loss: z.string(),
      mask: z.boolean(),
      modelId: z.string(),
      /** Validation scores with the model text (the paper's rule), and with hashtag-free captions. */
      val: rankingMetricsSchema,
      valHashtagFree: rankingMetricsSchema.nullable(),
      /** What selection compared: F1@k, the mean over the two caption variants when both exist. */
      score: z.number(),
      seconds: z.number(),
    }),
  ),
  chosen: z.string(),
  reason: z.string(),
  /** The neighbour blend tried on the chosen candidate; null when not tried. */
  blend: z
    .object({
      kept: z.boolean(),
      weight: z.number(),
      k: z.number().int(),
      valF1At2Without: z.number(),
      valF1At2With: z.number(),
    })
    .nullable(),
});
export type TrainingSelection = z.infer<typeof trainingSelectionSchema>;

/** A run's metrics: empty until its evaluate stage. */
export const trainingMetricsSchema = z.object({
  selection: trainingSelectionSchema.optional(),
  evaluation: trainingEvaluationSchema.optional(),
  /** The engine's own metrics of the candidate (its manifest's `metrics`). */
  engine: z.record(z.string(), z.unknown()).optional(),
});

const splitSizesSchema = z.object({ train: z.number().int(), val: z.number().int(), test: z.number().int() });

/** What the data stages did: each filter's posts (and outputs) in and out, in order, and the split sizes. */
export const trainingFilterReportSchema = z.object({
  steps: z.array(
    z.object({
      filter: z.string(),
      in: z.number().int(),
      out: z.number().int(),
      hashtagsIn: z.number().int().optional(),
      hashtagsOut: z.number().int().optional(),
      note: z.string().optional(),
      /** Posts left in each split after this step (the data-preparation steps; absent in older runs). */
      kept: splitSizesSchema.optional(),
      /** What to change when this step removes too much, e.g. "lower LXTAG_TRAIN_MIN_WORDS". */
      remedy: z.string().optional(),
    }),
  ),
  /** The data-preparation preset the run started from (`default`, `paper`); absent in older runs. */
  preset: z.string().optional(),
  /** Before the filters. */
  split: splitSizesSchema,
  /** After them. */
  kept: splitSizesSchema,
  /** Hashtags the candidate ranks. */
  hashtags: z.number().int(),
});
export type TrainingFilterReport = z.infer<typeof trainingFilterReportSchema>;
export type TrainingFilterStep = TrainingFilterReport["steps"][number];

/** The gate's verdict on a trained candidate. */
export const gateDecisionSchema = z.object({
  promote: z.boolean(),
  reason: z.string(),
  k: z.number().int(),
  margin: z.number(),
  candidate: z.object({ id: z.string(), f1: z.number() }),
  /**
   * The model compared with: the active one, or the version served in place of an active one a predict worker
   * refused; null when none served.
   */
  active: z.object({ id: z.string(), f1: z.number() }).nullable(),
});
export type GateDecision = z.infer<typeof gateDecisionSchema>;

/** A run that did not train: too little new data since the last successful run. */
export const skipDecisionSchema = z.object({
  skipped: z.literal(true),
  reason: z.string(),
  newPosts: z.number().int(),
  newLabels: z.number().int(),
});

export const trainingDecisionSchema = z.union([gateDecisionSchema, skipDecisionSchema]);
export type TrainingDecision = z.infer<typeof trainingDecisionSchema>;

/** A run in the list: its decision in a line (a skipped run's is not to promote, with the skip reason). */
export const trainingRunSummarySchema = z
  .object({
    id: z.uuid(),
    state: z.enum(TRAINING_RUN_STATES),
    /** The stage in progress, or the last one reached. */
    stage: z.string().nullable(),
    /** The candidate the run registered. */
    modelVersionId: z.string().nullable(),
    decision: z.object({ promote: z.boolean(), reason: z.string() }).nullable(),
    error: z.string().nullable(),
    createdAt: isoDateSchema,
    startedAt: isoDateSchema.nullable(),
    finishedAt: isoDateSchema.nullable(),
  })
  .describe("A training run: state, stage, timings, decision");
export type TrainingRunSummary = z.infer<typeof trainingRunSummarySchema>;

export const trainingRunsPageSchema = z
  .object({
    runs: z.array(trainingRunSummarySchema),
    /** Pass as `cursor` for the next page; null on the last one. */
    nextCursor: z.uuid().nullable(),
  })
  .describe("A page of training runs, newest first");
export type TrainingRunsPage = z.infer<typeof trainingRunsPageSchema>;

/** GET /v1/training-runs/:id: everything the run recorded, its log tail included. */
export const trainingRunDetailSchema = trainingRunSummarySchema
  .omit({ decision: true })
  .extend({
    /** The settings the run used; a queued run's are who asked for it and whether it is forced. */
    params: z.record(z.string(), z.unknown()),
    datasetId: z.string().nullable(),
    filterReport: trainingFilterReportSchema.nullable(),
    metrics: trainingMetricsSchema,
    /** As stored: the gate's verdict, or why the run was skipped. */
    decision: trainingDecisionSchema.nullable(),
    /** Seconds per finished stage. */
    timings: z.record(z.string(), z.number()),
    /** The last 200 lines of the run's log. */
    log: z.string().nullable(),
  })
  .describe("A training run: filter report, metrics, decision, timings and log tail");
export type TrainingRunDetail = z.infer<typeof trainingRunDetailSchema>;
