import { type ModelManifest, modelBundlePrefix } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { type ObjectStore, publishModelBundle } from "@lxtag/storage";

/**
 * Publishes an engine-written bundle with its tokenizer (unless it has one, as imported bundles do), registers it
 * and (optionally) activates it.
 */
export async function publishModel(
  store: ObjectStore,
  repos: Repositories,
  bundleDir: string,
  tokenizerPath: string | undefined,
  activate = true,
): Promise<ModelManifest> {
  const manifest = await publishModelBundle(store, bundleDir, tokenizerPath);
  await repos.models.register(manifest, modelBundlePrefix(manifest.id));
  if (activate) await repos.models.activate(manifest.id);
  return manifest;
}
