import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

/** The embedded setup's keys: registered only when neither key variable is set. */
export const DEV_API_KEYS = "dev:lxtag-dev-key";
export const DEV_ADMIN_API_KEYS = "admin:lxtag-dev-admin-key";

const apiEnvSchema = serviceEnvSchema
  .extend({
    LXTAG_API_HOST: z.string().default("127.0.0.1"),
    LXTAG_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /** Keys registered at start-up, "name:key" comma-separated. @defaultValue DEV_API_KEYS (see below) */
    LXTAG_API_KEYS: z.string().optional(),
    /** Admin keys (they manage the model registry), "name:key" comma-separated. @defaultValue DEV_ADMIN_API_KEYS */
    LXTAG_ADMIN_API_KEYS: z.string().optional(),
    /** Largest JSON body of POST /v1/batches (streamed to disk), bytes; other bodies are small, parsed whole. */
    LXTAG_API_BODY_LIMIT: z.coerce
      .number()
      .int()
      .positive()
      .default(64 * 2 ** 20),
    /** Largest single uploaded file part (a zip part, a JSON file of posts), bytes. */
    LXTAG_UPLOAD_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(8 * 2 ** 30),
    /**
     * How long a multipart upload may stream before the reconciler takes it for abandoned (the API process that
     * received it was killed): its batch, `uploading` since it began, loses the parts it wrote and fails with
     * `upload-abandoned`. Longer than the slowest upload you expect. @defaultValue 3600
     */
    LXTAG_UPLOAD_ABANDONED_AFTER_S: z.coerce.number().int().positive().default(3_600),
    /**
     * Where uploads are written before they go to S3, for the ingest job on the same host to read without
     * downloading them again: room for the uploads in flight and the batches waiting to be ingested (see
     * LXTAG_UPLOAD_SPOOL_MAX_GB). @defaultValue <tmpdir>/lxtag-uploads
     */
    LXTAG_UPLOAD_SPOOL_DIR: z.string().min(1).default(join(tmpdir(), "lxtag-uploads")),
    /**
     * GiB the spool may hold; past it, a minute's sweep removes the oldest copies of batches still queued (their
     * ingest downloads the parts instead). Below the disk's room, leaving space for uploads coming in and for
     * the downloads of ingests. @defaultValue 16
     */
    LXTAG_UPLOAD_SPOOL_MAX_GB: z.coerce.number().positive().default(16),
    LXTAG_INGEST_CONCURRENCY: z.coerce.number().int().positive().default(2),
    /**
     * How often the reconciler (`@lxtag/reconciler`) looks for unfinished batches and posts without a live job and
     * queues them again, ms; it also runs at start-up. API replicas share one pass per interval. 0 turns it off.
     */
    LXTAG_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
    /**
     * How long a key lookup is cached, ms: a revoked key is refused within this time on every replica, and a
     * flood of requests with one key costs one Postgres lookup per period. 0 asks Postgres every time.
     * @defaultValue 5000
     */
    LXTAG_API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
    /**
     * Requests one API key may make per window. A client polling a batch every 300 ms makes 200 a minute and a
     * results page or upload a few more, so 1200 (20/s) leaves headroom for several clients sharing a key while
     * a runaway loop is stopped. @defaultValue 1200
     */
    LXTAG_RATE_LIMIT_MAX: z.coerce.number().int().positive().default(1_200),
    /**
     * Requests per window from one IP address without a valid key (missing, unknown or revoked): low, as no
     * legitimate client needs many, so guessing keys is refused with 429. @defaultValue 60
     */
    LXTAG_RATE_LIMIT_ANONYMOUS_MAX: z.coerce.number().int().positive().default(60),
    /** The rate limits' window, ms (counted in Redis, so shared by every replica). @defaultValue 60000 */
    LXTAG_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).default(60_000),
  })
  // The development keys come as a pair, for the embedded setup: an operator who configures any key of their own
  // gets no well-known admin key (nor plain key) beside it.
  .transform(({ LXTAG_API_KEYS: keys, LXTAG_ADMIN_API_KEYS: admins, ...env }) => {
    const embedded = keys === undefined && admins === undefined;
    return {
      ...env,
      LXTAG_API_KEYS: keys ?? (embedded ? DEV_API_KEYS : ""),
      LXTAG_ADMIN_API_KEYS: admins ?? (embedded ? DEV_ADMIN_API_KEYS : ""),
    };
  });
export type ApiConfig = z.infer<typeof apiEnvSchema>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parseEnv(apiEnvSchema, env);

export interface ConfiguredKey {
  name: string;
  key: string;
  admin: boolean;
}

const parseKeys = (list: string, admin: boolean): ConfiguredKey[] =>
  list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.indexOf(":");
      return i > 0 ? { name: s.slice(0, i), key: s.slice(i + 1), admin } : { name: "key", key: s, admin };
    });

/** The keys to register at start-up, each once: a key listed in both variables is an admin key. */
export function configuredKeys(config: ApiConfig): ConfiguredKey[] {
  const byKey = new Map<string, ConfiguredKey>();
  for (const k of parseKeys(config.LXTAG_API_KEYS, false)) byKey.set(k.key, k);
  for (const k of parseKeys(config.LXTAG_ADMIN_API_KEYS, true)) byKey.set(k.key, k);
  return [...byKey.values()];
}
