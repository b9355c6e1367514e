import { createReadStream } from "node:fs";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelBundlePrefix } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { checkModelBundle } from "@lxtag/inference";
import { type ObjectStore, publishModelBundle } from "@lxtag/storage";

/**
 * Where a model's PyTorch checkpoint is kept: beside its bundle but not in the manifest's files, so predict
 * workers never download it; training runs fetch it to warm-start from the model.
 */
export const trainingCheckpointKey = (modelVersionId: string) =>
  `${modelBundlePrefix(modelVersionId)}training/checkpoint.pt`;

export interface PublishOptions {
  /** Copied in as `tokenizer.json`; unset when the bundle has one (imported bundles, and a run's candidates). */
  tokenizer?: string;
  /** The checkpoint the engine trained or imported: uploaded to {@link trainingCheckpointKey}. */
  checkpoint?: string;
  /** Make it the serving model once published and registered. @defaultValue false */
  activate?: boolean;
}

/**
 * Checks an engine-written bundle as a predict worker would load it (a `ModelContractError` with the reason
 * refuses it: nothing is uploaded or registered), then publishes it (and its checkpoint), registers it and, when
 * asked, activates it: the activation comes last, so a partial upload never serves.
 */
export async function publishModel(
  store: ObjectStore,
  repos: Repositories,
  bundleDir: string,
  options: PublishOptions = {},
): Promise<ModelManifest> {
  if (options.tokenizer) await copyFile(options.tokenizer, join(bundleDir, "tokenizer.json"));
  await checkModelBundle(bundleDir);
  const manifest = await publishModelBundle(store, bundleDir);
  if (options.checkpoint)
    await store.putStream(trainingCheckpointKey(manifest.id), createReadStream(options.checkpoint));
  await repos.models.register(manifest, modelBundlePrefix(manifest.id));
  if (options.activate) await repos.models.activate(manifest.id);
  return manifest;
}
