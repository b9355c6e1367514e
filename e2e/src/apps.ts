// The lxtag apps as this workspace uses them: as processes, from their built entry points (never imported).
import { fileURLToPath } from "node:url";
import { runProcess } from "@lxtag/runtime";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Long-running services and their entry points. */
export const SERVICES = {
  api: "apps/api/dist/main.js",
  "feature-worker": "apps/feature-worker/dist/main.js",
  "predict-worker": "apps/predict-worker/dist/main.js",
} as const;
export type ServiceName = keyof typeof SERVICES;

/**
 * Node's options for each service, as its container commands in `infra/` give them (a test holds the two alike).
 * The API's JavaScript heap is held to 256 MiB, under its 512 MiB ceiling: sizing itself on the host's memory, V8
 * let an ingest's garbage pile up past that ceiling (README, Running at scale).
 */
export const NODE_ARGS: Record<ServiceName, readonly string[]> = {
  api: ["--max-old-space-size=256"],
  "feature-worker": [],
  "predict-worker": [],
};

export interface CommandOptions {
  /** Each stdout line as it arrives. */
  onLine?: (line: string) => void;
  env?: Record<string, string>;
}

const node = (entry: string, args: string[], options: CommandOptions) =>
  runProcess(process.execPath, [entry, ...args], { cwd: ROOT, label: entry, ...options });

/** The last stdout line of a command that ends with a JSON result. */
const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split("\n").at(-1)!) as T;

/** Runs one of the trainer's commands (`apps/trainer/src/cli/<name>.ts`) and returns its JSON result. */
export async function trainerCommand<T = Record<string, unknown>>(
  name: "ensure-detector" | "publish-model" | "train" | "import-model",
  args: string[] = [],
  options: CommandOptions = {},
): Promise<T> {
  return lastJson<T>(await node(`apps/trainer/dist/cli/${name}.js`, args, options));
}

/** Runs an engine command through the trainer (its interpreter and thread settings); resolves with stdout.
 * `devtools` selects the engine's tools for tests and benchmarks (random-model, parity, speed, detect). */
export function engineCommand(
  args: string[],
  options: CommandOptions & { devtools?: boolean } = {},
): Promise<string> {
  const { devtools, ...rest } = options;
  return node("apps/trainer/dist/cli/engine.js", devtools ? ["--devtools", ...args] : args, rest);
}

/** The API's OpenAPI document, printed by the API app itself. */
export async function openApiDocument(): Promise<string> {
  return node("apps/api/dist/cli/openapi.js", [], {});
}
