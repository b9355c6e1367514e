import { describe, expect, it } from "vitest";
import { startPolling } from "./poller.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("startPolling", () => {
  it("ticks at once, then after each tick ended, until a tick says stop", async () => {
    const starts: number[] = [];
    let n = 0;
    const t0 = performance.now();
    startPolling(
      10,
      async () => {
        starts.push(performance.now() - t0);
        await sleep(30); // slower than the interval: ticks must not overlap
        return ++n === 3 ? "stop" : undefined;
      },
      () => {},
    );
    await sleep(200);
    expect(n).toBe(3);
    expect(starts[0]).toBeLessThan(10);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(38);
  });

  it("reports a throwing tick and tries again; stop waits for the tick in progress", async () => {
    const errors: string[] = [];
    let ticks = 0;
    let inTick = false;
    const poller = startPolling(
      5,
      async () => {
        ticks++;
        inTick = true;
        await sleep(20);
        inTick = false;
        if (ticks === 1) throw new Error("registry down");
        return undefined;
      },
      (err) => errors.push(err.message),
    );
    await sleep(35);
    await poller.stop();
    expect(inTick).toBe(false);
    const after = ticks;
    await sleep(30);
    expect(ticks).toBe(after);
    expect(errors).toEqual(["registry down"]);
    expect(ticks).toBeGreaterThanOrEqual(2);
  });
});
