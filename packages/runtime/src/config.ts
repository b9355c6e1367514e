import { z } from "zod";

/** Settings every process shares, parsed from the environment once at start-up; defaults fit `npm run setup`. */
export const serviceEnvSchema = z.object({
  LXTAG_REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
  DATABASE_URL: z.string().default("postgresql://lxtag:lxtag@127.0.0.1:5432/lxtag"),
  LXTAG_S3_ENDPOINT: z.string().default("http://127.0.0.1:4569"),
  LXTAG_S3_REGION: z.string().default("us-east-1"),
  LXTAG_S3_BUCKET: z.string().default("lxtag"),
  LXTAG_S3_ACCESS_KEY_ID: z.string().default("S3RVER"),
  LXTAG_S3_SECRET_ACCESS_KEY: z.string().default("S3RVER"),
  LXTAG_QUEUE_PREFIX: z.string().default("lxtag"),
  LXTAG_CACHE_DIR: z.string().default(".lxtag/cache"),
  /** Port of a worker's Prometheus `/metrics`; 0 serves none. */
  LXTAG_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /**
   * Interface of a worker's `/metrics`: loopback unless the scraper must reach it from elsewhere (the Kubernetes
   * manifests set 0.0.0.0, for Prometheus in the cluster).
   */
  LXTAG_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  /** How long a worker's job lock lives without renewal; a crashed worker's jobs are retried after about this. */
  LXTAG_JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
  /**
   * How long a job hit by an infrastructure error (Redis, Postgres or S3 down or timing out, 5xx) is retried, ms of
   * backoff: a restart or failover within it costs no post. Also how long a final failure is retried to be recorded.
   */
  LXTAG_RETRY_BUDGET_MS: z.coerce.number().int().min(0).default(300_000),
  /** The first retry's backoff, ms; each next one doubles up to LXTAG_RETRY_MAX_DELAY_MS. */
  LXTAG_RETRY_BASE_DELAY_MS: z.coerce.number().int().positive().default(1000),
  LXTAG_RETRY_MAX_DELAY_MS: z.coerce.number().int().positive().default(30_000),
  /** Attempts in all for an error that is neither an outage nor about the post itself (a bug, an odd object). */
  LXTAG_RETRY_ATTEMPTS: z.coerce.number().int().min(1).default(3),
  LXTAG_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type ServiceEnv = z.infer<typeof serviceEnvSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` with `schema`; bad configuration fails fast with every problem named. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const r = schema.safeParse(env);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return r.data;
}

export function storeOptions(env: ServiceEnv) {
  return {
    endpoint: env.LXTAG_S3_ENDPOINT || undefined,
    region: env.LXTAG_S3_REGION,
    bucket: env.LXTAG_S3_BUCKET,
    accessKeyId: env.LXTAG_S3_ACCESS_KEY_ID,
    secretAccessKey: env.LXTAG_S3_SECRET_ACCESS_KEY,
  };
}

/** "cuda,cpu" -> ["cuda", "cpu"] */
export const providerList = z
  .string()
  .default("cpu")
  .transform((s) =>
    s
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean),
  );
