import { describe, expect, it } from "vitest";
import { nominalDelay, type RetryPolicy, retryDelay, withTransientRetry } from "./retry.js";

const DEFAULTS: RetryPolicy = { budgetMs: 300_000, baseDelayMs: 1000, maxDelayMs: 30_000, attempts: 3 };
const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });

describe("retry policy", () => {
  it("backs off exponentially up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => nominalDelay(DEFAULTS, n))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("retries infrastructure errors for the budget: a 20 s or 30 s outage is outlasted, a stuck job ends in minutes", () => {
    let waitedMin = 0;
    let failures = 1;
    for (; ; failures++) {
      const delay = retryDelay(DEFAULTS, failures, refused);
      if (delay < 0) break;
      expect(delay).toBeGreaterThanOrEqual(0.8 * nominalDelay(DEFAULTS, failures));
      expect(delay).toBeLessThanOrEqual(nominalDelay(DEFAULTS, failures));
      waitedMin += 0.8 * nominalDelay(DEFAULTS, failures);
    }
    expect(failures).toBe(15); // 1+2+4+8+16 s, then 30 s until 300 s are spent
    expect(waitedMin).toBeGreaterThanOrEqual(0.8 * DEFAULTS.budgetMs);
    expect(waitedMin).toBeLessThan(DEFAULTS.budgetMs + DEFAULTS.maxDelayMs);
  });

  it("gives other errors `attempts` attempts in all", () => {
    expect(retryDelay(DEFAULTS, 1, new Error("a bug"))).toBeGreaterThan(0);
    expect(retryDelay(DEFAULTS, 2, new Error("a bug"))).toBeGreaterThan(0);
    expect(retryDelay(DEFAULTS, 3, new Error("a bug"))).toBe(-1);
  });

  it("withTransientRetry retries transient errors and throws others at once", async () => {
    const fast: RetryPolicy = { budgetMs: 100, baseDelayMs: 5, maxDelayMs: 10, attempts: 3 };
    let calls = 0;
    const retried: number[] = [];
    const value = await withTransientRetry(
      async () => {
        calls += 1;
        if (calls < 4) throw refused;
        return "written";
      },
      fast,
      (_err, delay) => retried.push(delay),
    );
    expect(value).toBe("written");
    expect(retried).toHaveLength(3);
    let other = 0;
    await expect(
      withTransientRetry(async () => {
        other += 1;
        throw new Error("violates check constraint");
      }, fast),
    ).rejects.toThrow("violates check constraint");
    expect(other).toBe(1);
    await expect(withTransientRetry(() => Promise.reject(refused), fast)).rejects.toBe(refused);
  });
});
