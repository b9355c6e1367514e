import { join } from "node:path";
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

/**
 * Two random models (seeds 1 and 2) of one detector, published under `<dir>/a` and `<dir>/b` with ids
 * `<idPrefix>a-<run>` and `<idPrefix>b-<run>`: what the tests switch a worker between.
 */
export async function publishModelPair(
  env: ServiceEnv,
  dir: string,
  { idPrefix, run, detector }: { idPrefix: string; run: string; detector: string },
): Promise<[ModelManifest, ModelManifest]> {
  const [a, b] = await Promise.all(
    (["a", "b"] as const).map((name, i) =>
      publishRandomModel(env, join(dir, name), { id: `${idPrefix}${name}-${run}`, seed: i + 1, detector }),
    ),
  );
  return [a!.manifest, b!.manifest];
}

/** Puts a published model in a registry (a candidate until activated). */
export async function registerModel(repos: Repositories, manifest: ModelManifest): Promise<void> {
  await repos.models.register(manifest, modelBundlePrefix(manifest.id));
}
