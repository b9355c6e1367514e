import type { ApiDeps } from "../deps.js";

export interface QueueCounts {
  waiting: number;
  prioritized: number;
  delayed: number;
  active: number;
  failed: number;
  backlog: number;
}

/**
 * Queue backlogs for autoscalers (KEDA's metrics-api scaler reads e.g. `features.backlog`). Waiting and
 * prioritized jobs are both work to do (a Redis list scaler would miss the prioritized ones); active jobs keep
 * a busy worker from being scaled away.
 */
export async function queueBacklog(queues: ApiDeps["queues"]): Promise<Record<string, QueueCounts>> {
  const out: Record<string, QueueCounts> = {};
  for (const [name, q] of Object.entries(queues)) {
    const c = await q.getJobCounts("waiting", "prioritized", "delayed", "active", "failed");
    const n = (state: string) => c[state] ?? 0;
    out[name] = {
      waiting: n("waiting"),
      prioritized: n("prioritized"),
      delayed: n("delayed"),
      active: n("active"),
      failed: n("failed"),
      backlog: n("waiting") + n("prioritized") + n("active"),
    };
  }
  return out;
}
