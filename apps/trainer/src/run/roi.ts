import { roiCacheKey } from "@lxtag/contracts";
import { decodeRoi, type ObjectStore, type RoiFeatures } from "@lxtag/storage";

/** S3 requests in flight at once while checking or reading RoI objects. */
const CONCURRENCY = 16;

/** `fn` over `items`, `limit` at once; once `signal` is aborted, no further item starts (its reason is thrown). */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Which of these images have an RoI object for the detector. An outage throws: only a definite absence (404)
 * leaves an image out. Stops (throwing its reason) once `signal` is aborted. */
export async function imagesWithRoi(
  store: ObjectStore,
  detectorId: string,
  shas: Iterable<string>,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const unique = [...new Set(shas)];
  const exists = await mapLimit(
    unique,
    CONCURRENCY,
    (sha) => store.exists(roiCacheKey(detectorId, sha)),
    signal,
  );
  return new Set(unique.filter((_, i) => exists[i]));
}

/** The RoI features of each image (null where the post has none: caption only), each image read once. */
export async function readRois(
  store: ObjectStore,
  detectorId: string,
  shas: readonly (string | null)[],
): Promise<(RoiFeatures | null)[]> {
  const unique = [...new Set(shas.filter((s): s is string => s !== null))];
  const rois = await mapLimit(unique, CONCURRENCY, async (sha) =>
    decodeRoi(await store.get(roiCacheKey(detectorId, sha))),
  );
  const bySha = new Map(unique.map((sha, i) => [sha, rois[i]!]));
  return shas.map((sha) => (sha === null ? null : bySha.get(sha)!));
}
