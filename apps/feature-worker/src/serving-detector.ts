import { join } from "node:path";
import { CURRENT_DETECTOR_KEY, currentDetectorSchema, detectorBundlePrefix } from "@lxtag/contracts";
import { fetchBundle, type ObjectStore } from "@lxtag/storage";
import { Detector } from "@lxtag/vision";
import type { FeatureConfig } from "./config.js";

/**
 * The detector this worker serves: `LXTAG_DETECTOR_ID`, else the one `detectors/current.json` names; its bundle is
 * fetched (and verified) into the cache folder once and loaded once per process, never per job.
 */
export async function loadServingDetector(store: ObjectStore, config: FeatureConfig): Promise<Detector> {
  const detectorId =
    config.LXTAG_DETECTOR_ID ??
    currentDetectorSchema.parse(JSON.parse((await store.get(CURRENT_DETECTOR_KEY)).toString())).id;
  const dir = await fetchBundle(
    store,
    detectorBundlePrefix(detectorId),
    join(config.LXTAG_CACHE_DIR, "detectors", detectorId),
  );
  return Detector.load(dir, {
    executionProviders: config.LXTAG_EXECUTION_PROVIDERS,
    intraOpThreads: config.LXTAG_ORT_THREADS,
  });
}
