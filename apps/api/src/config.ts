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
    /** Largest JSON body, bytes. */
    LXTAG_API_BODY_LIMIT: z.coerce
      .number()
      .int()
      .positive()
      .default(64 * 2 ** 20),
    /** Largest single uploaded zip part, bytes. */
    LXTAG_UPLOAD_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(8 * 2 ** 30),
    LXTAG_INGEST_CONCURRENCY: z.coerce.number().int().positive().default(2),
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
