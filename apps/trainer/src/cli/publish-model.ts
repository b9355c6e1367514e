// `node apps/trainer/dist/cli/publish-model.js --bundle DIR [--tokenizer FILE] [--checkpoint FILE] [--activate]`: a
// model bundle made elsewhere (the engine's `train`, `import`, or a GPU machine) uploaded, registered and optionally
// made active; its checkpoint, when given, is kept beside it so training runs can warm-start from it.
// Prints {"id", "active"}.
import { parseArgs } from "node:util";
import { publishModel } from "../publish.js";
import { printResult, runCommand } from "./services.js";

const { values } = parseArgs({
  options: {
    bundle: { type: "string" },
    tokenizer: { type: "string" },
    checkpoint: { type: "string" },
    activate: { type: "boolean", default: false },
  },
});
if (!values.bundle) {
  console.error("usage: publish-model --bundle DIR [--tokenizer FILE] [--checkpoint FILE] [--activate]");
  process.exit(2);
}
const bundle = values.bundle;
await runCommand(async ({ store, repos }) => {
  const manifest = await publishModel(store, repos, bundle, {
    tokenizer: values.tokenizer,
    checkpoint: values.checkpoint,
    activate: values.activate,
  });
  printResult({ id: manifest.id, active: values.activate });
});
