import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

const apiEnvSchema = serviceEnvSchema.extend({
  LXTAG_API_HOST: z.string().default("127.0.0.1"),
  LXTAG_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Keys registered at start-up, "name:key" comma-separated; the embedded setup uses one development key. */
  LXTAG_API_KEYS: z.string().default("dev:lxtag-dev-key"),
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
});
export type ApiConfig = z.infer<typeof apiEnvSchema>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parseEnv(apiEnvSchema, env);

export function configuredKeys(config: ApiConfig): { name: string; key: string }[] {
  return config.LXTAG_API_KEYS.split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.indexOf(":");
      return i > 0 ? { name: s.slice(0, i), key: s.slice(i + 1) } : { name: "key", key: s };
    });
}
