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
    expect(batcher.stats).toEqual({ batches: 2, items: 6, recent: [4, 2] });
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
  it("keeps its statistics bounded: totals count everything, `recent` only the latest window", async () => {
    const sizes: number[] = [];
    const batcher = new DynamicBatcher<number, number>(async (xs) => xs, {
      maxBatchSize: 3,
      maxWaitMs: 0,
      recentWindow: 4,
      onBatch: (size) => sizes.push(size),
    });
    // 10 rounds of 3, 2, 1 items: 30 batches
    for (let round = 0; round < 10; round++)
      for (const n of [3, 2, 1]) await Promise.all(Array.from({ length: n }, (_, i) => batcher.submit(i)));
    expect(sizes).toHaveLength(30);
    expect(batcher.stats.batches).toBe(30);
    expect(batcher.stats.items).toBe(60);
    // the last four batches, oldest first: ... 1 | 3, 2, 1
    expect(batcher.stats.recent).toEqual([1, 3, 2, 1]);
    // a further 1000 (full, so untimed) batches leave the window at 4
    for (let i = 0; i < 1000; i++) await Promise.all([1, 2, 3].map((x) => batcher.submit(x)));
    expect(batcher.stats.recent).toEqual([3, 3, 3, 3]);
    expect(batcher.stats.batches).toBe(1030);
  });
  it("with maxInFlight, fills the next batch while the slots are taken and starts it when one is handed back", async () => {
    const started: number[][] = [];
    const releases: (() => void)[] = [];
    const finish: (() => void)[] = [];
    const batcher = new DynamicBatcher<number, number>(
      (xs, release) => {
        started.push(xs);
        releases.push(release);
        return new Promise((resolve) => finish.push(() => resolve(xs)));
      },
      { maxBatchSize: 4, maxWaitMs: 5, maxInFlight: 1 },
    );
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const results = [1, 2, 3, 4, 5, 6].map((x) => batcher.submit(x));
    await sleep(30); // well past maxWaitMs: 5 and 6 still wait, the only slot is taken
    expect(started).toEqual([[1, 2, 3, 4]]);
    results.push(batcher.submit(7), batcher.submit(8));
    releases[0]!(); // handed back before its run ends: the next (full) batch starts now
    expect(started).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    releases[0]!(); // a second release of the same run frees nothing more
    results.push(batcher.submit(9));
    await sleep(30);
    expect(started).toHaveLength(2);
    finish[0]!(); // the first run ends: it already handed its slot back
    await sleep(30);
    expect(started).toHaveLength(2);
    finish[1]!(); // the second ends without releasing: its slot comes back, 9 has waited long enough
    await sleep(10);
    expect(started[2]).toEqual([9]);
    finish[2]!();
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  it("starts no batch past maxUnsettled, slots handed back or not, until one ends", async () => {
    const started: number[][] = [];
    const finish: (() => void)[] = [];
    const batcher = new DynamicBatcher<number, number>(
      (xs, release) => {
        started.push(xs);
        release(); // at once, synchronously: what bounds the batches now is maxUnsettled
        return new Promise((resolve) => finish.push(() => resolve(xs)));
      },
      { maxBatchSize: 2, maxWaitMs: 1, maxInFlight: 1, maxUnsettled: 2 },
    );
    const results = [1, 2, 3, 4, 5, 6].map((x) => batcher.submit(x));
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual([
      [1, 2],
      [3, 4],
    ]);
    finish[0]!();
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toHaveLength(3);
    finish[1]!();
    finish[2]!();
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => new DynamicBatcher(async (xs) => xs, { maxInFlight: 2, maxUnsettled: 1 })).toThrow(
      RangeError,
    );
  });
  it("fails the batch alone when its runner throws before returning a promise", async () => {
    const batcher = new DynamicBatcher<number, number>(
      (xs) => {
        if (xs.includes(1)) throw new Error("sync boom");
        return Promise.resolve(xs);
      },
      { maxBatchSize: 1, maxInFlight: 1 },
    );
    const results = await Promise.allSettled([1, 2].map((x) => batcher.submit(x)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled"]);
  });
  it("refuses a window, batch size or slots below 1", () => {
    expect(() => new DynamicBatcher(async (xs) => xs, { recentWindow: 0 })).toThrow(RangeError);
    expect(() => new DynamicBatcher(async (xs) => xs, { maxBatchSize: 0 })).toThrow(RangeError);
    expect(() => new DynamicBatcher(async (xs) => xs, { maxInFlight: 0 })).toThrow(RangeError);
  });
});
