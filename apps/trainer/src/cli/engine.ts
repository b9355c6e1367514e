// `node apps/trainer/dist/cli/engine.js [--devtools] COMMAND [ARGS...]`: one engine command with the trainer's
// interpreter and thread settings, its output passed through. Other workspaces (the benchmarks, cross-process
// tests) run the engine this way, as a process, instead of knowing how to start Python.
import { loadConfig } from "../config.js";
import { runEngine } from "../engine.js";

const args = process.argv.slice(2);
const devtools = args[0] === "--devtools";
try {
  await runEngine(loadConfig(), devtools ? args.slice(1) : args, {
    module: devtools ? "lxtag_engine.devtools" : "lxtag_engine",
    onLine: (line) => console.log(line),
  });
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}
