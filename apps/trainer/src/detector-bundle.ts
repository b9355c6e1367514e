import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CURRENT_DETECTOR_KEY,
  currentDetectorSchema,
  type DetectorManifest,
  detectorBundlePrefix,
  detectorManifestSchema,
} from "@lxtag/contracts";
import { fetchBundle, type ObjectStore, publishBundle } from "@lxtag/storage";
import type { TrainerConfig } from "./config.js";
import { runEngine } from "./engine.js";

/** No serving detector is set up: no features were ever computed, so there is nothing to train on. */
export class NoServingDetectorError extends Error {
  override name = "NoServingDetectorError";
  constructor() {
    super(
      `no serving detector: ${CURRENT_DETECTOR_KEY} does not exist and LXTAG_DETECTOR_ID is unset ` +
        "(run the feature worker on a batch first, or ensure-detector)",
    );
  }
}

/** The id of the detector whose RoI features serve: `LXTAG_DETECTOR_ID`, else the one `detectors/current.json`
 * names. Reads only: a training run learns from features that exist, it never provisions a detector. */
export async function servingDetectorId(
  store: ObjectStore,
  config: Pick<TrainerConfig, "LXTAG_DETECTOR_ID">,
): Promise<string> {
  if (config.LXTAG_DETECTOR_ID) return config.LXTAG_DETECTOR_ID;
  if (!(await store.exists(CURRENT_DETECTOR_KEY))) throw new NoServingDetectorError();
  return currentDetectorSchema.parse(JSON.parse((await store.get(CURRENT_DETECTOR_KEY)).toString())).id;
}

/**
 * The serving detector: the one `detectors/current.json` names, or, on a fresh setup (or when that bundle is from
 * an older format), a new one from the engine, published and made current. Returns a local bundle folder.
 */
export async function ensureDetector(
  store: ObjectStore,
  config: TrainerConfig,
  log: (line: string) => void = () => {},
): Promise<{ id: string; dir: string; manifest: DetectorManifest }> {
  const cacheDir = config.LXTAG_CACHE_DIR;
  const checkpoint = config.LXTAG_DETECTOR_CHECKPOINT;
  if (await store.exists(CURRENT_DETECTOR_KEY)) {
    const { id } = currentDetectorSchema.parse(
      JSON.parse((await store.get(CURRENT_DETECTOR_KEY)).toString()),
    );
    const prefix = detectorBundlePrefix(id);
    const current = (await store.exists(`${prefix}manifest.json`))
      ? detectorManifestSchema.safeParse(JSON.parse((await store.get(`${prefix}manifest.json`)).toString()))
      : undefined;
    if (current?.success)
      return {
        id,
        dir: await fetchBundle(store, prefix, join(cacheDir, "detectors", id)),
        manifest: current.data,
      };
    log(`detector ${id} is missing or in an older format; exporting a new one`);
  }
  const dir = join(cacheDir, "detectors", "new");
  log(checkpoint ? `importing the ResNet-101 detector from ${checkpoint}` : "exporting the tiny detector");
  await runEngine(
    config,
    checkpoint
      ? ["import-detector", "--preset", "r101", "--checkpoint", checkpoint, "--out", dir]
      : ["export-detector", "--preset", "tiny", "--out", dir],
  );
  const manifest = detectorManifestSchema.parse(
    JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")),
  );
  await publishBundle(store, dir, detectorBundlePrefix(manifest.id));
  await store.put(CURRENT_DETECTOR_KEY, JSON.stringify({ id: manifest.id }), "application/json");
  return { id: manifest.id, dir, manifest };
}
