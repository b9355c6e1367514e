import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelManifestSchema } from "@lxtag/contracts";
import type { ModelVersion, Repositories } from "@lxtag/db";
import { fetchBundle, type ObjectStore } from "@lxtag/storage";

/**
 * The serving model at the start of a run, its bundle fetched: what the candidate is compared with, and where the
 * tokenizer and a warm start come from. That is the registry's active version, unless a predict worker refused it
 * (it failed its warm-up there, so it serves nowhere): then the newest activated version no worker refused.
 */
export interface ActiveModel {
  id: string;
  /** Local bundle folder: manifest.json, model.onnx, tokenizer.json. */
  dir: string;
  manifest: ModelManifest;
}

export interface ServingModels {
  /** Null when no version serves: a fresh install, or only refused ones were ever activated. */
  active: ActiveModel | null;
  /** The registry's active version when a predict worker refused it: passed over, neither compared nor used. */
  refused: ModelVersion | null;
}

/** The serving model with its bundle in `cacheDir/models/<id>` (fetched and verified once), and a refused active one. */
export async function fetchActiveModel(
  repos: Repositories,
  store: ObjectStore,
  cacheDir: string,
): Promise<ServingModels> {
  const [registryActive, serving] = await Promise.all([repos.models.active(), repos.models.serving()]);
  const refused = registryActive?.refusedAt ? registryActive : null;
  if (!serving) return { active: null, refused };
  const dir = await fetchBundle(store, serving.bundlePrefix, join(cacheDir, "models", serving.id));
  const manifest = modelManifestSchema.parse(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
  return { active: { id: serving.id, dir, manifest }, refused };
}
