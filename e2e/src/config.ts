import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

const e2eEnvSchema = serviceEnvSchema.extend({
  /** The key the demo uploads with: the one the embedded setup registers. */
  LXTAG_DEMO_API_KEY: z.string().default("lxtag-dev-key"),
  /** Posts in the demo's export. */
  LXTAG_DEMO_POSTS: z.coerce.number().int().positive().default(320),
  /** Port of the demo's API; its workers serve metrics on the next two. */
  LXTAG_DEMO_PORT: z.coerce.number().int().min(1).max(65533).default(8787),
});
export type E2eConfig = z.infer<typeof e2eEnvSchema>;

/** The demo's, tests' and benchmarks' settings, parsed once; the processes they start read their own. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): E2eConfig => parseEnv(e2eEnvSchema, env);
