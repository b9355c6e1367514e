import { type ModelManifest, modelBundlePrefix } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { type ServiceEnv, storeOptions } from "@lxtag/runtime";
import { ObjectStore, publishModelBundle } from "@lxtag/storage";
import { type RandomModelOptions, randomModelBundle } from "@lxtag/testkit";

/**
 * A model bundle with random weights and its tokenizer (testkit's) in `dir`, published under `models/<id>/` in
 * the S3 of `env` as the trainer publishes one. Different seeds make models that rank differently.
 */
export async function publishRandomModel(
  env: ServiceEnv,
  dir: string,
  options: RandomModelOptions,
): Promise<{ dir: string; manifest: ModelManifest }> {
  await randomModelBundle(dir, options);
  const store = new ObjectStore(storeOptions(env));
  try {
    await store.ensureBucket();
    return { dir, manifest: await publishModelBundle(store, dir) };
  } finally {
    store.destroy();
  }
}

/** Puts a published model in a registry (a candidate until activated). */
export async function registerModel(repos: Repositories, manifest: ModelManifest): Promise<void> {
  await repos.models.register(manifest, modelBundlePrefix(manifest.id));
}
