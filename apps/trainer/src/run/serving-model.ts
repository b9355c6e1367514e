import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelManifestSchema } from "@lxtag/contracts";
import type { ModelVersion, Repositories } from "@lxtag/db";
import { fetchBundle, type ObjectStore } from "@lxtag/storage";

/**
 * The model serving at the start of a run, its bundle fetched: what the candidate is compared with, and where the
 * tokenizer and a warm start come from. That is the registry's active version, unless a predict worker refused it
 * (it failed its warm-up there, so it serves nowhere): then the newest activated version no worker refused.
 */
export interface ServingModel {
  id: string;
  /** Local bundle folder: manifest.json, model.onnx, tokenizer.json. */
  dir: string;
  manifest: ModelManifest;
}

export interface ServingModels {
  /** The registry's active version at the start of the run, refused or not; null on a fresh install. */
  active: ModelVersion | null;
  /** Null when no version serves: a fresh install, or only refused versions were ever activated. */
  serving: ServingModel | null;
}

/** The registry's active version, and the serving model with its bundle in `cacheDir/models/<id>` (fetched once). */
export async function fetchServingModel(
  repos: Repositories,
  store: ObjectStore,
  cacheDir: string,
): Promise<ServingModels> {
  const active = await repos.models.active();
  const version = active?.refusedAt ? await repos.models.newestUnrefused() : active;
  if (!version) return { active, serving: null };
  const dir = await fetchBundle(store, version.bundlePrefix, join(cacheDir, "models", version.id));
  const manifest = modelManifestSchema.parse(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
  return { active, serving: { id: version.id, dir, manifest } };
}
