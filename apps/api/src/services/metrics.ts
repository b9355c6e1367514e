import client from "prom-client";
import type { ApiDeps } from "../deps.js";

/** Prometheus metrics of this process, plus queue and post gauges read when scraped. */
export function createMetricsRegistry(deps: Pick<ApiDeps, "db" | "queues">): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  new client.Gauge({
    name: "lxtag_queue_jobs",
    help: "BullMQ jobs by queue and state",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      for (const q of Object.values(deps.queues)) {
        const counts = await q.getJobCounts(
          "waiting",
          "prioritized",
          "delayed",
          "active",
          "completed",
          "failed",
        );
        for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
      }
    },
  });
  new client.Gauge({
    name: "lxtag_posts",
    help: "Posts by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const r = await deps.db.pool.query<{ state: string; n: string }>(
        "SELECT state, count(*) AS n FROM posts GROUP BY state",
      );
      for (const row of r.rows) this.set({ state: row.state }, Number(row.n));
    },
  });
  return registry;
}
