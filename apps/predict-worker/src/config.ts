import { parseEnv, providerList, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

const schema = serviceEnvSchema.extend({
  LXTAG_EXECUTION_PROVIDERS: providerList,
  /** Serve this model version instead of the registry's active one (canaries, tests, pinning). */
  LXTAG_MODEL_ID: z.string().min(1).optional(),
  LXTAG_ORT_THREADS: z.coerce.number().int().positive().default(2),
  /** Largest micro-batch one ONNX run takes. */
  LXTAG_MAX_BATCH_SIZE: z.coerce.number().int().positive().default(32),
  /** How long the first waiting post waits for others, ms. */
  LXTAG_MAX_WAIT_MS: z.coerce.number().int().min(0).default(15),
  /**
   * Micro-batches reading their RoI objects at once, ahead of the model (bounded prefetch: at most
   * LXTAG_MAX_BATCH_SIZE times this many reads in flight); as many again may be in the model or being written.
   * The worker takes jobs (of 32 posts) for four times those reads' posts, and at least LXTAG_MAX_BATCH_SIZE jobs.
   */
  LXTAG_BATCHES_IN_FLIGHT: z.coerce.number().int().positive().default(3),
  /** Bytes of RoI objects the worker keeps for reading again (relabels, shared images), MiB; 0: none. */
  LXTAG_FEATURE_CACHE_MB: z.coerce.number().min(0).default(512),
  LXTAG_TOP_K: z.coerce.number().int().min(1).max(100).default(10),
  /** How often the worker checks the registry for a newly activated model (or its first one), ms. */
  LXTAG_MODEL_POLL_MS: z.coerce.number().int().positive().default(10_000),
});
export type PredictConfig = z.infer<typeof schema>;

/** The predict worker's settings; `env` is read here and nowhere else in the app. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): PredictConfig => parseEnv(schema, env);
