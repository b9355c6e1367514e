import { createHash } from "node:crypto";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { modelBundlePrefix, modelManifestSchema } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { type ObjectStore, publishBundle } from "@lxtag/storage";

/**
 * Adds the tokenizer to an engine-written bundle (unless it has one, as imported bundles do), uploads it,
 * registers it and (optionally) activates it.
 */
export async function publishModel(
  store: ObjectStore,
  repos: Repositories,
  bundleDir: string,
  tokenizerPath: string | undefined,
  activate = true,
) {
  if (tokenizerPath) await copyFile(tokenizerPath, join(bundleDir, "tokenizer.json"));
  const raw = JSON.parse(await readFile(join(bundleDir, "manifest.json"), "utf8"));
  raw.files["tokenizer.json"] = createHash("sha256")
    .update(await readFile(join(bundleDir, "tokenizer.json")))
    .digest("hex");
  const manifest = modelManifestSchema.parse(raw);
  await writeFile(join(bundleDir, "manifest.json"), JSON.stringify(manifest, null, 2));
  const prefix = modelBundlePrefix(manifest.id);
  await publishBundle(store, bundleDir, prefix);
  await repos.models.register(manifest, prefix);
  if (activate) await repos.models.activate(manifest.id);
  return manifest;
}
