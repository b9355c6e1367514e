import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ENGINE_DIR = fileURLToPath(new URL("../engine", import.meta.url));
/** Debian's interpreter has python3-torch; the first python3 on PATH may not. */
export const PYTHON = process.env.LXTAG_PYTHON ?? "/usr/bin/python3";

export class EngineError extends Error {
  override name = "EngineError";
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`engine ${command} exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

/**
 * Runs `python3 -m lxtag_engine <args>`: files in, files out. Progress lines go to `onLine`. PyTorch gets 2
 * threads and OpenBLAS 1 unless `env` or the environment say otherwise: Debian's pthread OpenBLAS otherwise
 * starts its own threads inside every PyTorch thread, which made a tiny model's training step 3.5x slower (248
 * vs 69 ms); large matrix products lose about a quarter without OpenBLAS threads, so speed measurements of wide
 * models pass OPENBLAS_NUM_THREADS themselves.
 */
export function runEngine(
  args: string[],
  onLine: (line: string) => void = () => {},
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ["-m", "lxtag_engine", ...args], {
      env: {
        ...process.env,
        PYTHONPATH: ENGINE_DIR,
        PYTHONUNBUFFERED: "1",
        OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "2",
        OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? "1",
        ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      for (const line of d.toString().split("\n")) if (line.trim()) onLine(line);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new EngineError(args[0] ?? "", code, stderr)),
    );
  });
}
