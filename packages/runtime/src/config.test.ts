import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, parseEnv, providerList, serviceEnvSchema, storeOptions } from "./index.js";

describe("parseEnv", () => {
  it("fills the defaults that fit `npm run setup`", () => {
    const env = parseEnv(serviceEnvSchema, {});
    expect(env.LXTAG_REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(env.LXTAG_JOB_LOCK_MS).toBe(30_000);
    expect(storeOptions(env)).toMatchObject({ endpoint: "http://127.0.0.1:4569", bucket: "lxtag" });
  });
  it("coerces numbers and lists", () => {
    const schema = serviceEnvSchema.extend({ LXTAG_EXECUTION_PROVIDERS: providerList });
    const env = parseEnv(schema, { LXTAG_METRICS_PORT: "9100", LXTAG_EXECUTION_PROVIDERS: " cuda, ,cpu" });
    expect(env.LXTAG_METRICS_PORT).toBe(9100);
    expect(env.LXTAG_EXECUTION_PROVIDERS).toEqual(["cuda", "cpu"]);
  });
  it("fails fast with a ConfigError naming every bad variable", () => {
    const schema = serviceEnvSchema.extend({ LXTAG_NEEDED: z.string() });
    let err: unknown;
    try {
      parseEnv(schema, { LXTAG_METRICS_PORT: "99999", LXTAG_LOG_LEVEL: "loud", LXTAG_JOB_LOCK_MS: "soon" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toMatch(/^invalid configuration: /);
    for (const name of ["LXTAG_METRICS_PORT", "LXTAG_LOG_LEVEL", "LXTAG_JOB_LOCK_MS", "LXTAG_NEEDED"])
      expect(message).toContain(`${name}: `);
    expect(message).not.toContain("LXTAG_REDIS_URL");
  });
});
