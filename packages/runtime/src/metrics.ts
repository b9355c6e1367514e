import { createServer, type Server, type ServerResponse } from "node:http";
import type { Job, Worker } from "bullmq";
import client from "prom-client";
import { READINESS_TIMEOUT_MS, type ReadinessCheck, within } from "./health.js";
import type { Logger } from "./logger.js";
import { isFinalFailure } from "./run-worker.js";

/** Prometheus metrics of one worker process: job durations and outcomes, plus whatever the app adds. */
export class WorkerMetrics {
  readonly registry = new client.Registry();
  private readonly durations: client.Histogram<"queue" | "outcome">;
  private readonly failures: client.Counter<"queue" | "final">;

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    client.collectDefaultMetrics({ register: this.registry });
    this.durations = new client.Histogram({
      name: "lxtag_job_duration_seconds",
      help: "Job processing time by queue and outcome",
      labelNames: ["queue", "outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.failures = new client.Counter({
      name: "lxtag_job_failures_total",
      help: "Failed job attempts; final=true when no retry is left",
      labelNames: ["queue", "final"],
      registers: [this.registry],
    });
  }

  /** Observes a worker's completed and failed jobs (duration from when the job was picked up). */
  watch(worker: Worker): void {
    const seconds = (job: Job) => (job.processedOn ? (Date.now() - job.processedOn) / 1000 : 0);
    worker.on("completed", (job, result) => {
      const outcome =
        typeof result === "string" ? result : ((result as { outcome?: string } | null)?.outcome ?? "done");
      this.durations.observe({ queue: worker.name, outcome }, seconds(job));
    });
    worker.on("failed", (job, err) => {
      if (!job) return;
      const final = isFinalFailure(job, err);
      this.failures.inc({ queue: worker.name, final: String(final) });
      this.durations.observe({ queue: worker.name, outcome: "failed" }, seconds(job));
    });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: L[] = [],
  ): client.Histogram<L> {
    return new client.Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }

  counter<L extends string>(name: string, help: string, labelNames: L[] = []): client.Counter<L> {
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * Serves `/metrics`, `/healthz` (liveness: the event loop answers) and `/readyz` (readiness: `ready`, 503 with its
   * reason otherwise) on `host`:`port`; port 0 serves none. `LXTAG_METRICS_HOST` and `LXTAG_METRICS_PORT`.
   * @param ready the process's own check; defaultValue: always ready
   */
  serve(
    port: number,
    log: Logger,
    host: string,
    ready: ReadinessCheck = () => undefined,
  ): Server | undefined {
    if (!port) return undefined;
    const server = createServer(async (req, res) => {
      const path = (req.url ?? "/").split("?", 1)[0];
      if (path === "/healthz") return json(res, 200, { ok: true });
      if (path === "/readyz") {
        const reason = await readiness(ready, log);
        return json(res, reason ? 503 : 200, reason ? { ok: false, reason } : { ok: true });
      }
      if (path !== "/metrics") return res.writeHead(404).end();
      try {
        const body = await this.registry.metrics();
        res.writeHead(200, { "content-type": this.registry.contentType }).end(body);
      } catch (err) {
        log.warn({ err: (err as Error).message }, "collecting metrics failed");
        res.writeHead(500).end();
      }
    });
    server.listen(port, host, () =>
      log.info({ host, port }, "metrics on /metrics, health on /healthz and /readyz"),
    );
    return server;
  }
}

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** Why the process is not ready (undefined: it is); a check that throws or hangs counts as not ready. */
async function readiness(ready: ReadinessCheck, log: Logger): Promise<string | undefined> {
  const answer = await within(
    Promise.resolve()
      .then(ready)
      .then(
        (reason) => ({ reason }),
        (err: Error) => {
          log.warn({ err: err.message }, "readiness check failed");
          return { reason: "readiness check failed" };
        },
      ),
    READINESS_TIMEOUT_MS,
  );
  return answer ? answer.reason : "readiness check timed out";
}
