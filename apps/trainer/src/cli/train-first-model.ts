// `node apps/trainer/dist/cli/train-first-model.js --export PART.zip [--export PART2.zip] --work DIR [--epochs N]`:
// a first model trained from a labeled Instagram export, published and made active (see first-model.ts).
// Prints the engine's progress, then {"id", "detector"}.
import { mkdir } from "node:fs/promises";
import { parseArgs } from "node:util";
import { trainFirstModel } from "../first-model.js";
import { printResult, runCommand } from "./services.js";

const { values } = parseArgs({
  options: {
    export: { type: "string", multiple: true },
    work: { type: "string" },
    epochs: { type: "string" },
  },
});
const { export: exportParts, work } = values;
if (!exportParts?.length || !work) {
  console.error(
    "usage: train-first-model --export PART.zip [--export PART2.zip ...] --work DIR [--epochs N]",
  );
  process.exit(2);
}
await mkdir(work, { recursive: true });
await runCommand(async (services) => {
  const manifest = await trainFirstModel(services, {
    exportParts,
    workDir: work,
    epochs: values.epochs ? Number(values.epochs) : undefined,
    log: (line) => console.log(line),
  });
  printResult({ id: manifest.id, detector: manifest.detector });
});
