// The engine as tests run it: the trainer app's CLI as a process (its interpreter and thread settings), never
// the app imported and never Python started here.
import { fileURLToPath } from "node:url";
import { runProcess } from "@lxtag/runtime";

/** The repository root, from packages/testkit/dist/engine.js. */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ENGINE_CLI = "apps/trainer/dist/cli/engine.js";

/**
 * Runs `node apps/trainer/dist/cli/engine.js [--devtools] ARGS...` (`devtools`: the engine's tools for tests,
 * e.g. random-model); resolves with its stdout, rejects with a ProcessError carrying stderr's tail. Needs the
 * trainer built.
 */
export function engineCommand(args: string[], options: { devtools?: boolean } = {}): Promise<string> {
  const argv = [ENGINE_CLI, ...(options.devtools ? ["--devtools"] : []), ...args];
  return runProcess(process.execPath, argv, { cwd: ROOT, label: `engine ${args[0] ?? ""}`.trim() });
}
