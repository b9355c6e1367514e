// `npm run import-model -- --checkpoint PATH --hashtags FILE [--vocab FILE] [--activate]`: a public LXMERT
// checkpoint (a HuggingFace folder such as unc-nlp/lxmert-base-uncased, or an airsplay .pth) becomes a model
// version: the engine's `import` writes the bundle, which is then published to S3 and registered.
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createDb, repositories } from "@lxtag/db";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { ensureDetector } from "../detector-bundle.js";
import { runEngine } from "../engine.js";
import { publishModel } from "../publish.js";

const { values } = parseArgs({
  options: {
    checkpoint: { type: "string" },
    hashtags: { type: "string" },
    vocab: { type: "string" },
    activate: { type: "boolean", default: false },
  },
});
if (!values.checkpoint || !values.hashtags) {
  console.error(
    "usage: npm run import-model -- --checkpoint PATH --hashtags FILE [--vocab FILE] [--activate]",
  );
  process.exit(2);
}
const env = parseEnv(serviceEnvSchema, process.env);
const db = createDb(env.DATABASE_URL);
const store = new ObjectStore(storeOptions(env));
try {
  // the model is made for the serving detector: its features are what the model will see
  const { id: detectorId } = await ensureDetector(store, env.LXTAG_CACHE_DIR, {
    checkpoint: process.env.LXTAG_DETECTOR_CHECKPOINT,
  });
  const out = await mkdtemp(join(env.LXTAG_CACHE_DIR, "import-"));
  console.log(`importing ${values.checkpoint} (detector ${detectorId})`);
  await runEngine(
    [
      "import",
      "--checkpoint",
      values.checkpoint,
      "--hashtags",
      values.hashtags,
      "--out",
      out,
      "--detector",
      detectorId,
      ...(values.vocab ? ["--vocab", values.vocab] : []),
    ],
    (line) => console.log(line),
  );
  const manifest = await publishModel(store, repositories(db), out, undefined, values.activate);
  console.log(`published ${manifest.id}${values.activate ? " and made it active" : " (not active)"}`);
} finally {
  store.destroy();
  await db.close();
}
