import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { detectorBundlePrefix, detectorManifestSchema } from "@lxtag/contracts";
import { fetchBundle, type ObjectStore, publishBundle } from "@lxtag/storage";
import { runEngine } from "./engine.js";

/**
 * The serving detector: the one `detectors/current.json` names, or, on a fresh setup, the placeholder grid
 * detector exported by the engine and published. Returns a local bundle folder.
 */
export async function ensureDetector(
  store: ObjectStore,
  cacheDir: string,
): Promise<{ id: string; dir: string }> {
  if (await store.exists("detectors/current.json")) {
    const { id } = JSON.parse((await store.get("detectors/current.json")).toString()) as { id: string };
    return { id, dir: await fetchBundle(store, detectorBundlePrefix(id), join(cacheDir, "detectors", id)) };
  }
  const dir = join(cacheDir, "detectors", "new");
  await runEngine(["export-detector", "--out", dir]);
  const manifest = detectorManifestSchema.parse(
    JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")),
  );
  await publishBundle(store, dir, detectorBundlePrefix(manifest.id));
  await store.put("detectors/current.json", JSON.stringify({ id: manifest.id }), "application/json");
  return { id: manifest.id, dir };
}
