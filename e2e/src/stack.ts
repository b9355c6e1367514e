import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { NODE_ARGS, ROOT, SERVICES, type ServiceName } from "./apps.js";
import { processCpuSeconds } from "./cpu-time.js";
import { reservePorts } from "./ports.js";

/**
 * The lxtag services as processes on this machine, for the demo, cross-process tests and benchmarks: the API on
 * `port`, the predict and feature workers' metrics on the next two (by default three reserved for this process).
 */
export class LocalStack {
  private readonly procs = new Map<ServiceName, ChildProcess>();
  readonly logs: string[] = [];

  constructor(
    private env: Record<string, string> = {},
    readonly port: number = reservePorts(3),
  ) {}

  /** Adds environment for processes started from now on. */
  setEnv(extra: Record<string, string>): void {
    this.env = { ...this.env, ...extra };
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where a worker serves its Prometheus metrics: the API's port plus one (predict) or two (features). */
  metricsUrl(name: "feature-worker" | "predict-worker"): string {
    return `http://127.0.0.1:${this.port + (name === "predict-worker" ? 1 : 2)}/metrics`;
  }

  /**
   * What says a service is up: the API's /readyz; the feature worker's /readyz (it takes jobs once its detector
   * is loaded); the predict worker's /healthz, since it waits for a first model (the fresh-install demo starts it
   * before the trainer made one).
   */
  private probeUrl(name: ServiceName): string {
    if (name === "api") return `${this.baseUrl}/readyz`;
    return this.metricsUrl(name).replace("/metrics", name === "feature-worker" ? "/readyz" : "/healthz");
  }

  start(name: ServiceName): ChildProcess {
    const child = spawn(process.execPath, [...NODE_ARGS[name], SERVICES[name]], {
      cwd: ROOT,
      env: {
        ...process.env,
        LXTAG_API_PORT: String(this.port),
        LXTAG_LOG_LEVEL: "warn",
        // off unless asked for (the fault suite, on services of its own): a local stack shares its database with
        // test suites under other queue prefixes, whose unfinished posts a reconciler would take into its queues
        LXTAG_RECONCILE_INTERVAL_MS: "0",
        ...(name === "api" ? {} : { LXTAG_METRICS_PORT: new URL(this.metricsUrl(name)).port }),
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (d: Buffer) => {
      this.logs.push(`[${name}] ${d.toString().trimEnd()}`);
      if (this.logs.length > 500) this.logs.shift();
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    this.procs.set(name, child);
    return child;
  }

  /** Starts the services (all three by default) and returns when each answers its probe (see `probeUrl`). */
  async startAll(names = Object.keys(SERVICES) as ServiceName[]): Promise<void> {
    for (const name of names) this.start(name);
    const deadline = Date.now() + 60_000;
    const up = (url: string) =>
      fetch(url).then(
        (r) => r.ok,
        () => false,
      );
    while (Date.now() < deadline) {
      const ready = await Promise.all(names.map((name) => up(this.probeUrl(name))));
      // checked after the probes too: a process that died at listen (its port taken) leaves the probe to whoever
      // holds that port
      for (const [name, p] of this.procs)
        if (p.exitCode !== null) throw new Error(`${name} exited early:\n${this.logs.join("\n")}`);
      if (ready.every(Boolean)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`lxtag not ready within 60 s:\n${this.logs.join("\n")}`);
  }

  /**
   * Waits until the predict worker serves a model (its /readyz): `startAll` waits for its liveness only, since it
   * may wait for a first model.
   */
  async untilServing(timeoutMs = 60_000): Promise<void> {
    const ready = this.metricsUrl("predict-worker").replace("/metrics", "/readyz");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const p = this.procs.get("predict-worker");
      if (!p || p.exitCode !== null || p.signalCode !== null)
        throw new Error(`the predict worker is not running:\n${this.logs.join("\n")}`);
      const ok = await fetch(ready, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the predict worker serves no model after ${timeoutMs} ms:\n${this.logs.join("\n")}`);
  }

  /**
   * A running service's peak resident memory since it started, in bytes: the kernel's high-water mark (`VmHWM` in
   * `/proc/<pid>/status`, Linux only), so it counts native memory (ONNX Runtime, libvips) that the V8 heap does not.
   */
  async peakRssBytes(name: ServiceName): Promise<number> {
    const p = this.procs.get(name);
    if (!p?.pid || p.exitCode !== null || p.signalCode !== null) throw new Error(`${name} is not running`);
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile(`/proc/${p.pid}/status`, "utf8"))?.[1];
    if (!kib) throw new Error(`no VmHWM in /proc/${p.pid}/status`);
    return Number(kib) * 1024;
  }

  /** The CPU time a running service has used since it started, all its threads, in seconds (Linux only). */
  async cpuSeconds(name: ServiceName): Promise<number> {
    const p = this.procs.get(name);
    if (!p?.pid || p.exitCode !== null || p.signalCode !== null) throw new Error(`${name} is not running`);
    return processCpuSeconds(p.pid);
  }

  /** The services that exited (crashed, or were killed) since they were last started. */
  exited(): { name: ServiceName; code: number | null; signal: NodeJS.Signals | null }[] {
    return [...this.procs]
      .filter(([, p]) => p.exitCode !== null || p.signalCode !== null)
      .map(([name, p]) => ({ name, code: p.exitCode, signal: p.signalCode }));
  }

  /** The process id of a service started by this stack (its Postgres connections carry it). */
  pid(name: ServiceName): number {
    const pid = this.procs.get(name)?.pid;
    if (pid === undefined) throw new Error(`${name} was not started`);
    return pid;
  }

  /** Kills one process (SIGKILL simulates a crash) and waits for it to be gone. */
  async kill(name: ServiceName, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await gone;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.kill(n, "SIGTERM")));
  }
}
