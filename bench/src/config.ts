import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

const benchEnvSchema = serviceEnvSchema.extend({
  /** Posts in the ingest measurement's export (captions only). */
  LXTAG_BENCH_INGEST_POSTS: z.coerce.number().int().positive().default(20_000),
  /** Distinct JPEGs (about 50 kB each) the posts of the ingest-with-images measurement share. */
  LXTAG_BENCH_INGEST_IMAGES: z.coerce.number().int().positive().default(2_000),
  /**
   * Posts with RoI features in the predict measurement (micro-batched vs one at a time) of the tiny model; the
   * 768-wide model's takes at most 256 (it ranks about 30 a second).
   */
  LXTAG_BENCH_PREDICT_POSTS: z.coerce.number().int().positive().default(2048),
  /** Posts of each predict-path run, each with its own RoI object. */
  LXTAG_BENCH_PREDICT_PATH_POSTS: z.coerce.number().int().positive().default(3000),
  /** Posts of the relabeled batch, and the distinct images (RoI objects) they share. */
  LXTAG_BENCH_RELABEL_POSTS: z.coerce.number().int().positive().default(20_000),
  LXTAG_BENCH_RELABEL_IMAGES: z.coerce.number().int().positive().default(2000),
  /** Posts of the end-to-end run at scale (`--only e2e-100k`), and the distinct images they share. */
  LXTAG_BENCH_SCALE_POSTS: z.coerce.number().int().positive().default(100_000),
  LXTAG_BENCH_SCALE_IMAGES: z.coerce.number().int().positive().default(1000),
  /** MiB of content lxtag does not read in that export's last zip part (a real export's messages and videos). */
  LXTAG_BENCH_SCALE_OTHER_MB: z.coerce.number().int().min(0).default(1024),
});
export type BenchConfig = z.infer<typeof benchEnvSchema>;
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): BenchConfig =>
  parseEnv(benchEnvSchema, env);

const detectorGpuEnvSchema = z.object({
  /** pytorch_model.bin of unc-nlp/frcnn-vg-finetuned; random weights without it. */
  LXTAG_DETECTOR_CHECKPOINT: z.string().optional(),
  LXTAG_GPU_IMAGES: z.coerce.number().int().positive().default(32),
  /** Images per batched detector run. */
  LXTAG_IMAGE_BATCH: z.coerce.number().int().positive().default(8),
  /** Images also run on the CPU path and compared box by box. */
  LXTAG_GPU_COMPARE: z.coerce.number().int().min(0).default(2),
});
export const loadDetectorGpuConfig = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnv(detectorGpuEnvSchema, env);
