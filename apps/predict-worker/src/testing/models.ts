import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ModelManifest, modelBundlePrefix, modelManifestSchema } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { runProcess } from "@lxtag/runtime";
import { type ObjectStore, publishBundle } from "@lxtag/storage";
import { writeWordPieceTokenizer } from "@lxtag/text";

const ENGINE = fileURLToPath(new URL("../../../trainer/engine", import.meta.url));
const PYTHON = process.env.LXTAG_PYTHON ?? "/usr/bin/python3"; // the one with PyTorch, as the trainer's default

export const CORPUS = [
  "a red sunset over the ocean",
  "my dog at the beach",
  "coffee and croissants in paris",
];

/**
 * A model bundle with random weights (CONTRACTS.md 4) from the engine, plus its tokenizer, published under
 * `models/<id>/` in S3. Different seeds make models that rank differently.
 */
export async function publishRandomModel(
  store: ObjectStore,
  dir: string,
  options: { id: string; seed: number; detector: string },
): Promise<{ dir: string; manifest: ModelManifest }> {
  await runProcess(
    PYTHON,
    [
      "-m",
      "lxtag_engine.devtools",
      "random-model",
      "--out",
      dir,
      "--hashtags",
      "12",
      "--detector",
      options.detector,
      "--config",
      '{"vocab_size": 200}',
      "--seed",
      String(options.seed),
      "--id",
      options.id,
    ],
    { env: { PYTHONPATH: ENGINE }, label: "lxtag_engine.devtools random-model" },
  );
  writeWordPieceTokenizer(CORPUS, join(dir, "tokenizer.json"), 200);
  const raw = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  raw.files["tokenizer.json"] = createHash("sha256")
    .update(await readFile(join(dir, "tokenizer.json")))
    .digest("hex");
  const manifest = modelManifestSchema.parse(raw);
  await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  await publishBundle(store, dir, modelBundlePrefix(manifest.id));
  return { dir, manifest };
}

/** Puts a published model in a registry (a candidate until activated). */
export async function registerModel(repos: Repositories, manifest: ModelManifest): Promise<void> {
  await repos.models.register(manifest, modelBundlePrefix(manifest.id));
}
