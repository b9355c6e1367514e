// `npm run import-model -- --checkpoint PATH --hashtags FILE [--vocab FILE] [--activate]`: a public LXMERT
// checkpoint (a HuggingFace folder such as unc-nlp/lxmert-base-uncased, or an airsplay .pth) becomes a model
// version: the engine's `import` writes the bundle, which is then published to S3 and registered.
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureDetector } from "../detector-bundle.js";
import { runEngine } from "../engine.js";
import { publishModel } from "../publish.js";
import { printResult, runCommand } from "./services.js";

const { values } = parseArgs({
  options: {
    checkpoint: { type: "string" },
    hashtags: { type: "string" },
    vocab: { type: "string" },
    activate: { type: "boolean", default: false },
  },
});
const { checkpoint, hashtags } = values;
if (!checkpoint || !hashtags) {
  console.error(
    "usage: npm run import-model -- --checkpoint PATH --hashtags FILE [--vocab FILE] [--activate]",
  );
  process.exit(2);
}
await runCommand(async ({ config, store, repos }) => {
  // the model is made for the serving detector: its features are what the model will see
  const { id: detectorId } = await ensureDetector(store, config, (line) => console.log(line));
  const out = await mkdtemp(join(config.LXTAG_CACHE_DIR, "import-"));
  console.log(`importing ${checkpoint} (detector ${detectorId})`);
  const args = ["import", "--checkpoint", checkpoint, "--hashtags", hashtags, "--out", out];
  await runEngine(
    config,
    [...args, "--detector", detectorId, ...(values.vocab ? ["--vocab", values.vocab] : [])],
    {
      onLine: (line) => console.log(line),
    },
  );
  const manifest = await publishModel(store, repos, out, {
    checkpoint: join(out, "checkpoint.pt"),
    activate: values.activate,
  });
  console.log(`published ${manifest.id}${values.activate ? " and made it active" : " (not active)"}`);
  printResult({ id: manifest.id, active: values.activate });
});
