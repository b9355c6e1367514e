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
  /** Stops the program (SIGTERM) when aborted; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Runs a program to completion; resolves with its stdout, rejects with `ProcessError` (and stderr's tail). */
export function runProcess(file: string, args: string[], options: RunProcessOptions = {}): Promise<string> {
  const label = options.label ?? `${file} ${args[0] ?? ""}`.trim();
  return new Promise((resolve, reject) => {
    const { signal } = options;
    const child = spawn(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, signal });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (!options.onLine) return;
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) options.onLine(line);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    // an abort's error is Node's AbortError; what the caller needs is why it aborted
    child.on("error", (err) => reject(signal?.aborted ? signal.reason : err));
    child.on("close", (code) => {
      if (partial.trim()) options.onLine?.(partial);
      code === 0 ? resolve(stdout) : reject(new ProcessError(label, code, stderr));
    });
  });
}
