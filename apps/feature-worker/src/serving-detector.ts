import { rm } from "node:fs/promises";
import { join } from "node:path";
import { CURRENT_DETECTOR_KEY, currentDetectorSchema, detectorBundlePrefix } from "@lxtag/contracts";
import { fetchBundle, ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";
import { Detector } from "@lxtag/vision";
import type { FeatureConfig } from "./config.js";

/**
 * The serving detector, loaded; or why there is none to serve yet (a fresh install: nothing published); or that the
 * one loaded already (`loaded`) still is the serving one.
 */
export type ServingDetector = { detector: Detector } | { missing: string } | { unchanged: string };

/**
 * The detector this worker serves: `LXTAG_DETECTOR_ID`, else the one `detectors/current.json` names; its bundle is
 * fetched (and verified) into the cache folder once and loaded once per detector, never per job. Resolves with
 * `missing` while nothing is published: `current.json` absent, or the named bundle's manifest not there yet (the
 * manifest is uploaded last); with `unchanged` when it is `loaded` (one small read of `current.json`, so a worker
 * can ask often). Provisioning is the trainer's (`ensure-detector`): this image has no PyTorch. Throws when S3
 * cannot be read now or a published bundle is broken.
 */
export async function loadServingDetector(
  store: ObjectStore,
  config: FeatureConfig,
  loaded?: string,
): Promise<ServingDetector> {
  let detectorId = config.LXTAG_DETECTOR_ID;
  if (!detectorId) {
    let current: Buffer;
    try {
      current = await store.get(CURRENT_DETECTOR_KEY);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return { missing: `${CURRENT_DETECTOR_KEY} does not exist` };
      throw err;
    }
    detectorId = currentDetectorSchema.parse(JSON.parse(current.toString())).id;
  }
  if (detectorId === loaded) return { unchanged: detectorId };
  const prefix = detectorBundlePrefix(detectorId);
  if (!(await store.exists(`${prefix}manifest.json`)))
    return { missing: `detector ${detectorId} is not published (no ${prefix}manifest.json)` };
  const dir = await fetchBundle(store, prefix, bundleFolder(config, detectorId));
  const detector = await Detector.load(dir, {
    executionProviders: config.LXTAG_EXECUTION_PROVIDERS,
    intraOpThreads: config.LXTAG_ORT_THREADS,
  });
  return { detector };
}

/** Where a detector's bundle is kept on this host. */
const bundleFolder = (config: Pick<FeatureConfig, "LXTAG_CACHE_DIR">, detectorId: string) =>
  join(config.LXTAG_CACHE_DIR, "detectors", detectorId);

/** Removes a detector's bundle from this host's cache (one no longer served: a ResNet-101's is about 260 MB). */
export async function forgetDetector(
  config: Pick<FeatureConfig, "LXTAG_CACHE_DIR">,
  detectorId: string,
): Promise<void> {
  await rm(bundleFolder(config, detectorId), { recursive: true, force: true });
}
