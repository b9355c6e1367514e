import type { Job, JobState, Queue } from "bullmq";

/**
 * Polls a job until it is in one of `states` (by default: finished either way) and returns it, read after its
 * state matched (so a finished job carries its result); throws after `timeoutMs` naming the state it was stuck
 * in. Polling, not events: it cannot miss a job that finished before it was called.
 */
export async function waitForJob(
  queue: Queue,
  jobId: string,
  options: { states?: (JobState | "unknown")[]; timeoutMs?: number } = {},
): Promise<Job> {
  const states: string[] = options.states ?? ["completed", "failed"];
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await queue.getJobState(jobId);
    if (states.includes(state)) {
      const job = await queue.getJob(jobId);
      if (job) return job;
    }
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
