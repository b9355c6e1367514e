import { describe, expect, it, vi } from "vitest";
import { startPolling } from "./poller.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Timers may fire late on a loaded machine: these tests wait for what must happen, and check order from recorded
// times rather than from how long the test slept.
describe("startPolling", () => {
  it("ticks at once, then after each tick ended, until a tick says stop", async () => {
    const ticks: { start: number; end: number }[] = [];
    let n = 0;
    startPolling(
      10,
      async () => {
        const start = performance.now();
        await sleep(30); // slower than the interval: ticks must not overlap
        ticks.push({ start, end: performance.now() });
        return ++n === 3 ? "stop" : undefined;
      },
      () => {},
    );
    expect(n).toBe(0);
    await vi.waitFor(() => expect(n).toBe(3), { timeout: 5000 });
    await sleep(100);
    expect(n).toBe(3); // stopped
    // each tick began at least the interval after the one before ended (timers fire up to 1 ms early)
    for (let i = 1; i < ticks.length; i++)
      expect(ticks[i]!.start - ticks[i - 1]!.end).toBeGreaterThanOrEqual(9);
  });

  it("runs the first tick at once, before startPolling returns", () => {
    let started = false;
    const poller = startPolling(
      1000,
      async () => {
        started = true;
        return "stop";
      },
      () => {},
    );
    expect(started).toBe(true);
    return poller.stop();
  });

  it("reports a throwing tick and tries again; stop waits for the tick in progress", async () => {
    const errors: string[] = [];
    let ticks = 0;
    let inTick = false;
    let secondStarted!: () => void;
    const second = new Promise<void>((r) => {
      secondStarted = r;
    });
    const poller = startPolling(
      5,
      async () => {
        ticks++;
        inTick = true;
        if (ticks === 2) secondStarted();
        await sleep(20);
        inTick = false;
        if (ticks === 1) throw new Error("registry down");
        return undefined;
      },
      (err) => errors.push(err.message),
    );
    await second; // the retry, after the failing first tick
    expect(inTick).toBe(true);
    await poller.stop();
    expect(inTick).toBe(false);
    const after = ticks;
    await sleep(30);
    expect(ticks).toBe(after);
    expect(errors).toEqual(["registry down"]);
  });
});
