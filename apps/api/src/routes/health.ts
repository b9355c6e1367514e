import type { FastifyInstance } from "fastify";
import client from "prom-client";
import type { ApiDeps } from "../deps.js";

export function healthRoutes(app: FastifyInstance, deps: ApiDeps): void {
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

  app.get("/healthz", async () => ({ ok: true }));
  // Queue backlogs for autoscalers (KEDA's metrics-api scaler reads e.g. `features.backlog`). Waiting and
  // prioritized jobs are both work to do (a Redis list scaler would miss the prioritized ones); active jobs keep
  // a busy worker from being scaled away.
  app.get("/queues", async () => {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, q] of Object.entries(deps.queues)) {
      const c = await q.getJobCounts("waiting", "prioritized", "delayed", "active", "failed");
      out[name] = { ...c, backlog: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) };
    }
    return out;
  });
  app.get("/readyz", async (_req, reply) => {
    const checks: Record<string, string> = {};
    await deps.db.pool.query("SELECT 1").then(
      () => (checks.postgres = "ok"),
      (e) => (checks.postgres = String(e.message)),
    );
    await deps.queues.ingest.getJobCounts("waiting").then(
      () => (checks.redis = "ok"),
      (e: Error) => (checks.redis = e.message),
    );
    await deps.store.exists("readyz").then(
      () => (checks.s3 = "ok"),
      (e: Error) => (checks.s3 = e.message),
    );
    const ok = Object.values(checks).every((v) => v === "ok");
    return reply.code(ok ? 200 : 503).send({ ok, checks });
  });
  app.get("/metrics", async (_req, reply) =>
    reply.header("content-type", registry.contentType).send(await registry.metrics()),
  );
}
