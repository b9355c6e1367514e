import { describe, expect, it } from "vitest";
import { FeatureCache } from "./feature-cache.js";

const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

describe("FeatureCache", () => {
  it("keeps what fits, least recently used out first", async () => {
    const cache = new FeatureCache(250);
    let loads = 0;
    const load = (n: number) => async () => {
      loads += 1;
      return bytes(n);
    };
    await cache.get("a", load(100), true);
    await cache.get("b", load(100), true);
    await cache.get("a", load(100)); // a is now the most recently used
    await cache.get("c", load(100), true); // over 250: b goes
    expect(cache.stats).toEqual({ hits: 1, misses: 3, bytes: 200, entries: 2 });
    await cache.get("a", load(100));
    await cache.get("b", load(100));
    expect(loads).toBe(4);
    expect(cache.stats.bytes).toBeLessThanOrEqual(250);
  });

  it("shares one load between concurrent reads of a key, also with no room (0 bytes)", async () => {
    const cache = new FeatureCache(0);
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 10));
      return bytes(10);
    };
    const all = await Promise.all([
      cache.get("k", load, true),
      cache.get("k", load, true),
      cache.get("k", load, true),
    ]);
    expect(loads).toBe(1);
    expect(all.every((b) => b.length === 10)).toBe(true);
    await cache.get("k", load);
    expect(loads).toBe(2); // nothing kept
    expect(cache.stats.entries).toBe(0);
  });

  it("keeps no failed load and drops what the caller found unreadable", async () => {
    const cache = new FeatureCache(1000);
    await expect(cache.get("k", () => Promise.reject(new Error("S3 down")))).rejects.toThrow("S3 down");
    expect(await cache.get("k", async () => bytes(5, 2), true)).toEqual(bytes(5, 2));
    cache.delete("k");
    expect(cache.stats).toMatchObject({ bytes: 0, entries: 0 });
    expect(await cache.get("k", async () => bytes(5, 3))).toEqual(bytes(5, 3));
  });

  it("keeps an object on its second read, or on its first when it will be read again", async () => {
    const cache = new FeatureCache(1000, 100); // keys of up to 40 objects read once are remembered
    let loads = 0;
    const load = async () => {
      loads += 1;
      return bytes(100);
    };
    await cache.get("once", load);
    expect(cache.stats).toMatchObject({ misses: 1, entries: 0, bytes: 0 }); // read once: not kept
    await cache.get("once", load);
    expect(cache.stats).toMatchObject({ misses: 2, entries: 1, bytes: 100 }); // read again: kept
    await cache.get("once", load);
    expect(loads).toBe(2);
    await cache.get("relabel", load, true);
    await cache.get("relabel", load);
    expect(loads).toBe(3);
    // two reads at once are a second read
    await Promise.all([cache.get("shared", load), cache.get("shared", load)]);
    await cache.get("shared", load);
    expect(loads).toBe(4);
    // a second read that fails leaves the first remembered: the next one keeps the object
    await cache.get("flaky", load);
    await expect(cache.get("flaky", () => Promise.reject(new Error("S3 down")))).rejects.toThrow("S3 down");
    await cache.get("flaky", load);
    await cache.get("flaky", load);
    expect(loads).toBe(6);
    // the oldest keys read once are forgotten past 40: their second read is a first again
    for (let i = 0; i < 41; i++) await cache.get(`k${i}`, load);
    await cache.get("k0", load);
    await cache.get("k40", load);
    expect(cache.stats).toMatchObject({ entries: 5 }); // once, relabel, shared, flaky and k40; k0 was read once again
    expect(loads).toBe(6 + 41 + 2);
  });
});
