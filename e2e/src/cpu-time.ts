// CPU time from Linux's /proc, for benchmarks: a process's own, and the whole machine's.
import { readFile } from "node:fs/promises";

/** The kernel's unit for CPU times in /proc (`USER_HZ`), fixed at 100 a second on Linux. */
const TICKS_PER_SECOND = 100;

/** The CPU time a process has used since it started, all its threads, in seconds (`utime` + `stime`). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // the fields after the command name, which may itself hold spaces: state is the first, utime the twelfth
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** The machine's CPU time so far, summed over its cores, in seconds: what this machine's processes used, and in all. */
export interface MachineCpu {
  busy: number;
  total: number;
}

/**
 * From the first line of `/proc/stat`: user, nice, system, idle, iowait, irq, softirq and steal (the guest times
 * after them are inside user and nice already). Busy is what ran here; steal (the hypervisor ran another machine)
 * counts in the total only.
 */
export async function machineCpu(): Promise<MachineCpu> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const busy = user! + nice! + system! + irq! + softirq!;
  return { busy: busy / TICKS_PER_SECOND, total: (busy + idle! + iowait! + steal!) / TICKS_PER_SECOND };
}

/**
 * Runs `fn` and says what CPU the machine used meanwhile: every process on it (the S3 server, Postgres and Redis,
 * and the caller's own), in core-seconds (`busy`), and as a fraction of every core's time (`share`).
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
