import { fileURLToPath } from "node:url";
import { runProcess } from "@lxtag/runtime";
import type { TrainerConfig } from "./config.js";

export const ENGINE_DIR = fileURLToPath(new URL("../engine", import.meta.url));

export interface EngineRunOptions {
  /** Each stdout line as it arrives: the engine's progress. */
  onLine?: (line: string) => void;
  /** Extra environment, e.g. more OpenBLAS threads for a speed measurement. */
  env?: Record<string, string>;
  /** `lxtag_engine` (the engine's commands) or `lxtag_engine.devtools` (tools for tests and benchmarks). */
  module?: "lxtag_engine" | "lxtag_engine.devtools";
  /** Stops the engine when aborted (a training run or a detector export that lost its lock). */
  signal?: AbortSignal;
}

/**
 * Runs `python3 -m lxtag_engine <args>`: files in, files out, never Redis, Postgres or S3. Resolves with its
 * stdout; rejects with a ProcessError carrying stderr's tail.
 */
export function runEngine(
  config: Pick<TrainerConfig, "LXTAG_PYTHON" | "OMP_NUM_THREADS" | "OPENBLAS_NUM_THREADS">,
  args: string[],
  options: EngineRunOptions = {},
): Promise<string> {
  const module = options.module ?? "lxtag_engine";
  return runProcess(config.LXTAG_PYTHON, ["-m", module, ...args], {
    label: `${module} ${args[0] ?? ""}`,
    onLine: options.onLine,
    signal: options.signal,
    env: {
      PYTHONPATH: ENGINE_DIR,
      PYTHONUNBUFFERED: "1",
      OMP_NUM_THREADS: config.OMP_NUM_THREADS,
      OPENBLAS_NUM_THREADS: config.OPENBLAS_NUM_THREADS,
      ...options.env,
    },
  });
}
