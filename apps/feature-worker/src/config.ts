import { parseEnv, providerList, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";
import { isNetwork } from "./address-policy.js";

const schema = serviceEnvSchema
  .extend({
    /** Detector bundle id under `detectors/<id>/` in S3; unset means the one named by `detectors/current.json`. */
    LXTAG_DETECTOR_ID: z.string().optional(),
    /** How often a worker looks for the serving detector, ms: a first one (a fresh install), then a new one. */
    LXTAG_DETECTOR_POLL_MS: z.coerce.number().int().positive().default(10_000),
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
    /** Fetch `http://` image URLs too; off, only https (tests against a local server turn it on). */
    LXTAG_IMAGE_FETCH_ALLOW_HTTP: z.stringbool().default(false),
    /**
     * Networks image URLs may reach although they are not public (loopback, private, link-local, CGNAT, ...), as
     * CIDRs comma-separated, e.g. `127.0.0.1/32` for tests; empty, the default, allows none of them.
     */
    LXTAG_IMAGE_FETCH_ALLOW_NETWORKS: z
      .string()
      .default("")
      .transform((s) =>
        s
          .split(",")
          .map((n) => n.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(z.string().refine(isNetwork, { message: "not an IP network (e.g. 10.0.0.0/8, ::1/128)" })),
      ),
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
