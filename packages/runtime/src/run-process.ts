import { spawn } from "node:child_process";

export class ProcessError extends Error {
  override name = "ProcessError";
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

export interface RunProcessOptions {
  /** Added to this process's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Each non-empty stdout line as it arrives (progress). */
  onLine?: (line: string) => void;
  /** Names the command in errors. @defaultValue the executable and first argument */
  label?: string;
  /** Stops the program when aborted (SIGTERM, SIGKILL after `STOP_GRACE_MS`); the promise then rejects with the
   * signal's reason. */
  signal?: AbortSignal;
}

/** How long a stopped program has to exit on SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * Runs a program to completion; resolves with its stdout, rejects with `ProcessError` (and stderr's tail). Stopped
 * through `signal`, it rejects with the signal's reason once the program has exited (SIGTERM, then SIGKILL).
 */
export function runProcess(file: string, args: string[], options: RunProcessOptions = {}): Promise<string> {
  const label = options.label ?? `${file} ${args[0] ?? ""}`.trim();
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env } });
    let stdout = "";
    let stderr = "";
    let partial = "";
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill("SIGTERM");
      killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    };
    signal?.addEventListener("abort", stop, { once: true });
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (!options.onLine || signal?.aborted) return;
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) options.onLine(line);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.on("error", (err) => {
      signal?.removeEventListener("abort", stop);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(killer);
      signal?.removeEventListener("abort", stop);
      if (signal?.aborted) return reject(signal.reason);
      if (partial.trim()) options.onLine?.(partial);
      code === 0 ? resolve(stdout) : reject(new ProcessError(label, code, stderr));
    });
  });
}
