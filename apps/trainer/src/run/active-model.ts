import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelManifestSchema } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { fetchBundle, type ObjectStore } from "@lxtag/storage";

/** The serving model at the start of a run, its bundle fetched: what the candidate is compared with, and where
 * the tokenizer and a warm start come from. */
export interface ActiveModel {
  id: string;
  /** Local bundle folder: manifest.json, model.onnx, tokenizer.json. */
  dir: string;
  manifest: ModelManifest;
}

/** The active model with its bundle in `cacheDir/models/<id>` (fetched and verified once), or null if none. */
export async function fetchActiveModel(
  repos: Repositories,
  store: ObjectStore,
  cacheDir: string,
): Promise<ActiveModel | null> {
  const active = await repos.models.active();
  if (!active) return null;
  const dir = await fetchBundle(store, active.bundlePrefix, join(cacheDir, "models", active.id));
  const manifest = modelManifestSchema.parse(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
  return { id: active.id, dir, manifest };
}
