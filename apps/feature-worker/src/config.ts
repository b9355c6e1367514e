import { parseEnv, providerList, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

const schema = serviceEnvSchema
  .extend({
    /** Detector bundle id under `detectors/<id>/` in S3; unset means the one named by `detectors/current.json`. */
    LXTAG_DETECTOR_ID: z.string().optional(),
    /** ONNX Runtime execution providers in order of preference. */
    LXTAG_EXECUTION_PROVIDERS: providerList,
    LXTAG_FEATURE_CONCURRENCY: z.coerce.number().int().positive().default(2),
    LXTAG_ORT_THREADS: z.coerce.number().int().positive().default(1),
    /** Images per detector run: above 1, concurrent jobs are batched (pays off on GPU). */
    LXTAG_IMAGE_BATCH: z.coerce.number().int().positive().default(1),
    /** How long the first image of a batch waits for others, ms. */
    LXTAG_IMAGE_BATCH_WAIT_MS: z.coerce.number().int().min(0).default(20),
    /** Largest image fetched from a URL, bytes; a larger one is flagged `image-error:too-large`. */
    LXTAG_MAX_IMAGE_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(64 * 2 ** 20),
    /** A URL image not fetched within this many ms is retried later (the host may be slow only now). */
    LXTAG_IMAGE_FETCH_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
    /** Decompression-bomb guard for decoded images. */
    LXTAG_MAX_IMAGE_PIXELS: z.coerce.number().int().positive().default(50_000_000),
  })
  // a batch fills only from jobs in flight: with fewer, every batch would wait out LXTAG_IMAGE_BATCH_WAIT_MS
  .refine((c) => c.LXTAG_IMAGE_BATCH <= c.LXTAG_FEATURE_CONCURRENCY, {
    path: ["LXTAG_IMAGE_BATCH"],
    message: "must not exceed LXTAG_FEATURE_CONCURRENCY (a batch fills only from jobs in flight)",
  });
export type FeatureConfig = z.infer<typeof schema>;

/** The feature worker's settings; `env` is read here and nowhere else in the app. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): FeatureConfig => parseEnv(schema, env);
