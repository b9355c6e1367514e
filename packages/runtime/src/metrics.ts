import { createServer, type Server } from "node:http";
import type { Job, Worker } from "bullmq";
import client from "prom-client";
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

  histogram(name: string, help: string, buckets: number[]): client.Histogram {
    return new client.Histogram({ name, help, buckets, registers: [this.registry] });
  }

  counter<L extends string>(name: string, help: string, labelNames: L[] = []): client.Counter<L> {
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Serves `/metrics` on `host`:`port` (port 0: not served); `LXTAG_METRICS_HOST` and `LXTAG_METRICS_PORT`. */
  serve(port: number, log: Logger, host: string): Server | undefined {
    if (!port) return undefined;
    const server = createServer(async (req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": this.registry.contentType }).end(await this.registry.metrics());
    });
    server.listen(port, host, () => log.info({ host, port }, "metrics on /metrics"));
    return server;
  }
}
