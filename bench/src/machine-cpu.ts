import { readFile } from "node:fs/promises";

/** CPU time of the whole machine so far, from `/proc/stat` (Linux only), in seconds summed over every core. */
export interface MachineCpu {
  busy: number;
  total: number;
}

/** The first line of `/proc/stat`: ticks (100 a second) by kind, summed over the cores; idle and iowait are idle. */
export async function machineCpu(): Promise<MachineCpu> {
  const ticks = (await readFile("/proc/stat", "utf8"))
    .split("\n", 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: (total - ticks[3]! - ticks[4]!) / 100, total: total / 100 };
}

/**
 * Runs `fn` and says what CPU the machine used meanwhile: every process on it, so the S3 server, Postgres and
 * Redis count too. `busy` is core-seconds; `share` is the fraction of every core's time that was busy.
 */
export async function cpuDuring<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; busy: number; share: number }> {
  const before = await machineCpu();
  const result = await fn();
  const after = await machineCpu();
  const busy = after.busy - before.busy;
  return { result, busy, share: busy / Math.max(after.total - before.total, 1e-9) };
}
