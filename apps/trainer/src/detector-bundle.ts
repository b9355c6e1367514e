import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CURRENT_DETECTOR_KEY,
  currentDetectorSchema,
  type DetectorManifest,
  detectorBundlePrefix,
  detectorManifestSchema,
} from "@lxtag/contracts";
import { SessionLock } from "@lxtag/db";
import { fetchBundle, type ObjectStore, publishBundle } from "@lxtag/storage";
import type { TrainerConfig } from "./config.js";
import { runEngine } from "./engine.js";

/** No serving detector is set up: no features were ever computed, so there is nothing to train on. */
export class NoServingDetectorError extends Error {
  override name = "NoServingDetectorError";
  constructor() {
    super(
      `no serving detector: ${CURRENT_DETECTOR_KEY} does not exist and LXTAG_DETECTOR_ID is unset ` +
        "(run ensure-detector: the lxtag-provision-detector Job in Kubernetes)",
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

/** What the serving detector's weights are (`random`, `checkpoint:<file>`), from its published manifest; null when
 * its bundle is not in the store (an operator's LXTAG_DETECTOR_ID for features made elsewhere). */
export async function detectorWeights(store: ObjectStore, detectorId: string): Promise<string | null> {
  const key = `${detectorBundlePrefix(detectorId)}manifest.json`;
  if (!(await store.exists(key))) return null;
  return detectorManifestSchema.parse(JSON.parse((await store.get(key)).toString())).weights;
}

// advisory lock ids in use: 72707369 the migrator, 72707370 model activation, 72707371 training runs
const PROVISION_LOCK_ID = 72707372;
/** How often a provisioner waiting for another's lock tries again, ms. */
const LOCK_RETRY_MS = 500;

type EnsuredDetector = { id: string; dir: string; manifest: DetectorManifest };

/**
 * The serving detector: the one `detectors/current.json` names, or, on a fresh setup (or when that bundle is from
 * an older format), a new one from the engine, published and made current. Returns a local bundle folder.
 *
 * Provisioning holds a Postgres session lock (per database: one install), so provisioners started together (the
 * Kubernetes Job, the demo, `import-model`) never publish two detectors: the second waits for the lock, then finds
 * the first's. A crashed provisioner's lock goes with its connection.
 */
export async function ensureDetector(
  store: ObjectStore,
  config: TrainerConfig,
  log: (line: string) => void = () => {},
): Promise<EnsuredDetector> {
  const serving = await currentDetector(store, config.LXTAG_CACHE_DIR, log);
  if (serving) return serving;
  let lock = await SessionLock.tryAcquire(config.DATABASE_URL, PROVISION_LOCK_ID, "detector-provision");
  if (!lock) log("another process is provisioning the detector; waiting for it");
  while (!lock) {
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    lock = await SessionLock.tryAcquire(config.DATABASE_URL, PROVISION_LOCK_ID, "detector-provision");
  }
  try {
    // what another provisioner published while this one waited (or before it took the lock)
    return (
      (await currentDetector(store, config.LXTAG_CACHE_DIR, () => {})) ??
      (await provision(store, config, log, lock))
    );
  } finally {
    await lock.release();
  }
}

/** The detector `detectors/current.json` names, fetched; undefined when there is none or it is not usable. */
async function currentDetector(
  store: ObjectStore,
  cacheDir: string,
  log: (line: string) => void,
): Promise<EnsuredDetector | undefined> {
  if (!(await store.exists(CURRENT_DETECTOR_KEY))) return undefined;
  const { id } = currentDetectorSchema.parse(JSON.parse((await store.get(CURRENT_DETECTOR_KEY)).toString()));
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
  return undefined;
}

/** A new detector from the engine, published, then named by `detectors/current.json`. Call under the lock. */
async function provision(
  store: ObjectStore,
  config: TrainerConfig,
  log: (line: string) => void,
  lock: SessionLock,
): Promise<EnsuredDetector> {
  const checkpoint = config.LXTAG_DETECTOR_CHECKPOINT;
  const dir = join(config.LXTAG_CACHE_DIR, "detectors", "new");
  log(checkpoint ? `importing the ResNet-101 detector from ${checkpoint}` : "exporting the tiny detector");
  await runEngine(
    config,
    checkpoint
      ? ["import-detector", "--preset", "r101", "--checkpoint", checkpoint, "--out", dir]
      : ["export-detector", "--preset", "tiny", "--out", dir],
    { signal: lock.signal },
  );
  const manifest = detectorManifestSchema.parse(
    JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")),
  );
  await publishBundle(store, dir, detectorBundlePrefix(manifest.id));
  // another provisioner may hold the lock now: naming this detector could replace the one it publishes
  if (lock.lost)
    throw new Error(`lost the detector provisioning lock (${lock.lost.message}); nothing made current`);
  await store.put(CURRENT_DETECTOR_KEY, JSON.stringify({ id: manifest.id }), "application/json");
  log(`published detector ${manifest.id} as the serving one`);
  return { id: manifest.id, dir, manifest };
}
