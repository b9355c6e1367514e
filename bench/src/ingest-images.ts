// Ingest of an export with images: posts sharing a few distinct JPEGs, in two zip parts, uploaded to an API process
// of its own whose queues no worker reads; against the caption-only ingest of the same posts on the same process.
import { createHash, randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { imageObjectKey, QUEUES } from "@lxtag/contracts";
import { createDb } from "@lxtag/db";
import {
  cpuDuring,
  LocalStack,
  LxtagClient,
  noisePhotos,
  type SyntheticPost,
  writeExportZips,
} from "@lxtag/e2e";
import { createQueue, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import type { BenchConfig } from "./config.js";

export interface IngestImagesBench {
  config: BenchConfig;
  /** A folder for the zip parts. */
  work: string;
  report: (name: string, value: number, unit: string, detail?: string) => void;
  say: (line: string) => void;
}

const WORDS = ["sunset", "coffee", "trip", "dog", "dinner", "beach", "friends", "city", "morning", "snow"];

/** `ingest_with_images_posts_per_s` and `ingest_images_vs_captions_ratio`. */
export async function benchIngestImages({ config, work, report, say }: IngestImagesBench): Promise<void> {
  const postCount = config.LXTAG_BENCH_INGEST_POSTS;
  const imageCount = config.LXTAG_BENCH_INGEST_IMAGES;
  say(`== ingest of a ${postCount}-post export sharing ${imageCount} distinct JPEGs, in two zip parts`);
  const key = `bench-${randomUUID()}`;
  const prefix = `lxtag-bench-${randomUUID().slice(0, 8)}`;
  const stack = new LocalStack({
    LXTAG_QUEUE_PREFIX: prefix,
    LXTAG_API_KEYS: `bench:${key}`,
    LXTAG_LOG_LEVEL: "error",
  });
  const db = createDb(config.DATABASE_URL);
  const store = new ObjectStore(storeOptions(config));
  const batches: string[] = [];
  const images = new Set<string>();
  await stack.startAll(["api"]);
  try {
    const api = new LxtagClient(stack.baseUrl, key);
    /** Writes the export; photos new to S3 each run (a seed of the clock), so every image is looked up and stored. */
    const exportOf = async (name: string, posts: number, distinct: number, captionsOnly = false) => {
      const photos = captionsOnly ? [Buffer.alloc(0)] : await noisePhotos(distinct, Date.now() >>> 0);
      const synthetic: SyntheticPost[] = Array.from({ length: posts }, (_, i) => ({
        caption: `post ${i} ${WORDS[i % 10]} with ${WORDS[(i * 7) % 10]} #${WORDS[(i * 3) % 10]} #${WORDS[(i * 5) % 10]}`,
        image: photos[i % photos.length]!,
        hashtags: [],
      }));
      const paths = captionsOnly
        ? [join(work, `${name}.zip`)]
        : [1, 2].map((part) => join(work, `${name}-${part}.zip`));
      await writeExportZips(synthetic, paths, { shareImages: true, captionsOnly });
      const bytes = (await Promise.all(paths.map((p) => stat(p)))).reduce((s, st) => s + st.size, 0);
      // their S3 keys, for the clean-up: hashed here, outside the ingest's time and CPU
      if (!captionsOnly) for (const p of photos) images.add(createHash("sha256").update(p).digest("hex"));
      return { paths, bytes };
    };
    /** Seconds from upload to every post enqueued, and the CPU it took: the machine's and the API's own, in core-ms a post. */
    const ingest = async (exported: { paths: string[] }, posts: number) => {
      const apiBefore = await stack.cpuSeconds("api");
      const { result: s, busy, share } = await cpuDuring(() => ingestSeconds(exported, posts));
      const api = (await stack.cpuSeconds("api")) - apiBefore;
      return { s, cpu: (1000 * busy) / posts, api: (1000 * api) / posts, share };
    };
    const ingestSeconds = async ({ paths }: { paths: string[] }, posts: number) => {
      const t0 = performance.now();
      const id = await LxtagClient.batchId(await api.uploadZips(paths));
      batches.push(id);
      // ingested = every post stored and its features job enqueued
      const summary = await api.waitForIngest(id, { intervalMs: 20, timeoutMs: 20 * 60_000 });
      const s = (performance.now() - t0) / 1000;
      if (summary.state !== "processing" || summary.totalPosts !== posts)
        throw new Error(
          `ingested ${summary.totalPosts} of ${posts} posts (${summary.state}: ${summary.error})`,
        );
      return s;
    };

    // a warm-up first: what is measured is a warm, long-running API process, not a cold start
    await ingestSeconds(await exportOf("warm", 2000, 200), 2000);
    const captions = await exportOf("captions", postCount, 0, true);
    const withImages = await exportOf("images", postCount, imageCount);
    const captionsRun = await ingest(captions, postCount);
    const imagesRun = await ingest(withImages, postCount);
    const { s: captionsS } = captionsRun;
    const { s: imagesS } = imagesRun;
    const rate = postCount / imagesS;
    const captionsRate = postCount / captionsS;
    report(
      "ingest_with_images_posts_per_s",
      rate,
      "posts/s",
      `${imagesS.toFixed(2)} s, ${(withImages.bytes / 2 ** 20).toFixed(0)} MiB in 2 parts, upload to every post enqueued; target >= 1000`,
    );
    report(
      "ingest_images_vs_captions_ratio",
      rate / captionsRate,
      "ratio",
      `captions only: ${captionsRate.toFixed(0)} posts/s (${captionsS.toFixed(2)} s); target >= 0.25`,
    );
    // the machine's CPU for the two runs (every process: the API, the S3 server, Postgres, Redis): what the images
    // add, and how much of it is the API's own
    const cpuOf = (r: typeof imagesRun) =>
      `${r.cpu.toFixed(3)} core-ms a post, the API's own ${r.api.toFixed(3)}, machine ${(100 * r.share).toFixed(0)}% busy`;
    report("ingest_with_images_cpu_ms_per_post", imagesRun.cpu, "core-ms", cpuOf(imagesRun));
    report("ingest_captions_cpu_ms_per_post", captionsRun.cpu, "core-ms", cpuOf(captionsRun));
  } finally {
    await stack.stop();
    // leave the shared services as they were: the API's queues, the batches' rows, their uploads and images
    const features = createQueue(QUEUES.features, config.LXTAG_REDIS_URL, prefix);
    await features.obliterate({ force: true });
    await features.close();
    const sources = await db.pool.query<{ source: { keys?: string[] } }>(
      "SELECT source FROM batches WHERE id = ANY($1::uuid[])",
      [batches],
    );
    const uploads = sources.rows.flatMap((r) => r.source.keys ?? []);
    const keys = [...uploads, ...[...images].map(imageObjectKey)];
    for (let i = 0; i < keys.length; i += 32) await store.delete(keys.slice(i, i + 32));
    await db.pool.query("DELETE FROM batches WHERE id = ANY($1::uuid[])", [batches]);
    await db.close();
    store.destroy();
  }
}
