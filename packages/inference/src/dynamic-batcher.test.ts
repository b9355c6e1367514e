import { describe, expect, it } from "vitest";
import { DynamicBatcher } from "./dynamic-batcher.js";

describe("DynamicBatcher", () => {
  it("runs a full batch at once and a partial one after maxWaitMs", async () => {
    const seen: number[][] = [];
    const batcher = new DynamicBatcher<number, number>(
      async (xs) => {
        seen.push(xs);
        return xs.map((x) => x * 10);
      },
      { maxBatchSize: 4, maxWaitMs: 20 },
    );
    const started = performance.now();
    const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => batcher.submit(x)));
    expect(out).toEqual([10, 20, 30, 40, 50, 60]);
    expect(seen).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15); // the partial batch waited
    expect(batcher.batchSizes).toEqual([4, 2]);
  });
  it("rejects every item of a failed batch, and only those", async () => {
    const batcher = new DynamicBatcher<number, number>(
      async (xs) => {
        if (xs.includes(2)) throw new Error("boom");
        return xs;
      },
      { maxBatchSize: 2, maxWaitMs: 1 },
    );
    const results = await Promise.allSettled([1, 2, 3].map((x) => batcher.submit(x)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "fulfilled"]);
  });
  it("rejects when runBatch returns the wrong number of results", async () => {
    const batcher = new DynamicBatcher<number, number>(async () => [], { maxBatchSize: 1 });
    await expect(batcher.submit(1)).rejects.toThrow(/0 results for 1 items/);
  });
});
