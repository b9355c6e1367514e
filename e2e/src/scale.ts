// A large export through the whole pipeline, upload to last prediction, with each process's peak memory: the scale
// test (5,000 posts) and the bench's e2e-100k section (100,000) run this same code, so the README's ceiling is
// checked by the one and measured by the other.
import { createHash } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { imageObjectKey, QUEUES, roiCacheKey } from "@lxtag/contracts";
import { createQueue } from "@lxtag/runtime";
import { SERVICES, type ServiceName } from "./apps.js";
import { type BatchSummary, LxtagClient } from "./client.js";
import type { IsolatedPipeline } from "./isolated-pipeline.js";
import { type SyntheticPost, syntheticPosts, writeExportZips } from "./synthetic-export.js";

/**
 * The peak RSS no process may pass, MiB, as the README states it: fixed, whatever the export's size (ingest streams
 * the posts files; the API peaked at 391 MiB ingesting 100,000 posts and 401 MiB at 300,000). The predict worker's
 * includes its RoI cache (`LXTAG_FEATURE_CACHE_MB`, 512 by default), which fills with distinct images, not posts.
 */
export const RSS_CEILING_MIB: Record<ServiceName, number> = {
  api: 512,
  "feature-worker": 640,
  "predict-worker": 1024,
};

/**
 * The test's export: posts sharing images, as the 100,000-post one shares 1,000; and 160 MiB of content lxtag does
 * not read, more than the API's headroom under its ceiling, so an API that held a zip part whole would pass it.
 */
export const SCALE_TEST_EXPORT = { posts: 5000, images: 100, otherBytes: 160 * 2 ** 20 } as const;

/**
 * What the scale runs change from the defaults: 8 feature jobs in flight (2 by default, sized for a GPU's detector
 * runs). Most posts find their image's RoIs cached and then wait on S3 and Postgres, not on a core; at 2 the feature
 * worker, not the model, sets the pace. It raises the feature worker's peak too: up to 8 detector runs at once.
 */
export const SCALE_SETTINGS = { LXTAG_FEATURE_CONCURRENCY: "8" } as const;

export interface ScaleExport {
  paths: string[];
  posts: number;
  /** Distinct images, each new to the RoI cache. */
  images: number;
  /** SHA-256 of each image, for cleaning up its objects. */
  imageShas: string[];
  /** The zip parts' size together, and how much of it is content that lxtag does not read. */
  bytes: number;
  otherBytes: number;
}

/**
 * Writes `posts` posts in `parts` zip parts, post i showing scene image i mod `images`; every image is stamped
 * with a fresh number, so the detector runs once per image even on a bucket that earlier runs filled. The last
 * part carries `otherBytes` of content that lxtag does not read (see `ExportZipOptions`).
 */
export async function writeScaleExport(
  dir: string,
  name: string,
  {
    posts,
    images,
    otherBytes = 0,
    parts = 3,
  }: { posts: number; images: number; otherBytes?: number; parts?: number },
): Promise<ScaleExport> {
  const scenes = await syntheticPosts(images, 7, { stamp: (Math.random() * 2 ** 32) >>> 0 });
  const all: SyntheticPost[] = Array.from({ length: posts }, (_, i) => {
    const scene = scenes[i % images]!;
    return { ...scene, caption: `${i}: ${scene.caption}` };
  });
  const paths = Array.from({ length: parts }, (_, i) => join(dir, `${name}-${i + 1}.zip`));
  await writeExportZips(all, paths, { shareImages: true, otherBytes });
  const sizes = await Promise.all(paths.map((p) => stat(p)));
  return {
    paths,
    posts,
    images,
    imageShas: scenes.map((s) => createHash("sha256").update(s.image).digest("hex")),
    bytes: sizes.reduce((sum, s) => sum + s.size, 0),
    otherBytes,
  };
}

/** What says that every post of a batch was predicted exactly once, read from Postgres. */
export interface ExactlyOnce {
  posts: number;
  done: number;
  failed: number;
  /** Posts with at least one prediction. */
  predictedPosts: number;
  /** (post, model) pairs with predictions: one per post when one model served the batch. */
  predictionSets: number;
  /** The distinct numbers of hashtags a set ranks: [10] when each set is one top-10. */
  ranksPerSet: number[];
  /** Sets that name a hashtag twice. */
  setsWithRepeats: number;
}

export async function exactlyOnce(t: IsolatedPipeline, batchId: string): Promise<ExactlyOnce> {
  const posts = await t.db.pool.query<{ posts: string; done: string; failed: string }>(
    `SELECT count(*) AS posts, count(*) FILTER (WHERE state = 'done') AS done,
            count(*) FILTER (WHERE state = 'failed') AS failed
       FROM posts WHERE batch_id = $1`,
    [batchId],
  );
  const sets = await t.db.pool.query<{
    predicted: string;
    sets: string;
    ranks: number[] | null;
    repeats: string;
  }>(
    `SELECT count(DISTINCT pr.post_id) AS predicted, count(*) AS sets, array_agg(DISTINCT cardinality(pr.hashtags)) AS ranks,
            count(*) FILTER (WHERE cardinality(pr.hashtags) <> (SELECT count(DISTINCT h) FROM unnest(pr.hashtags) h)) AS repeats
       FROM predictions pr JOIN posts p ON p.id = pr.post_id
      WHERE p.batch_id = $1`,
    [batchId],
  );
  const p = posts.rows[0]!;
  const s = sets.rows[0]!;
  return {
    posts: Number(p.posts),
    done: Number(p.done),
    failed: Number(p.failed),
    predictedPosts: Number(s.predicted),
    predictionSets: Number(s.sets),
    ranksPerSet: s.ranks ?? [],
    setsWithRepeats: Number(s.repeats),
  };
}

export interface ScaleRun {
  batchId: string;
  summary: BatchSummary;
  /** Upload start to the batch done (the last prediction), and to every post stored and enqueued. */
  seconds: number;
  ingestSeconds: number;
  /** Each process's peak RSS over the run, MiB (the processes started just before it). */
  peakRssMiB: Record<ServiceName, number>;
  /** The same once the batch was ingested: what the upload and the export's parsing took. */
  peakRssAtIngestMiB: Record<ServiceName, number>;
  /** Feature jobs that ran the detector, and mean feature job milliseconds by outcome (the worker's metrics). */
  detectorRuns: number;
  featurizeMs: { detected: number; cached: number };
  audit: ExactlyOnce;
}

export interface ScaleRunOptions {
  /** @defaultValue 10 minutes */
  timeoutMs?: number;
  /** @defaultValue 250 */
  intervalMs?: number;
  onProgress?: (summary: BatchSummary, seconds: number) => void;
}

/**
 * Uploads the export to the pipeline's API and waits for the last prediction. Start the services just before:
 * a peak RSS is the process's high-water mark since it started.
 */
export async function runScaleExport(
  t: IsolatedPipeline,
  exp: ScaleExport,
  { timeoutMs = 10 * 60_000, intervalMs = 250, onProgress = () => {} }: ScaleRunOptions = {},
): Promise<ScaleRun> {
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  const peakRss = async () => {
    const mib = {} as Record<ServiceName, number>;
    for (const name of Object.keys(SERVICES) as ServiceName[])
      mib[name] = (await t.stack.peakRssBytes(name)) / 2 ** 20;
    return mib;
  };
  let ingestSeconds = Number.NaN;
  let atIngest: Promise<Record<ServiceName, number>> | undefined;
  const batchId = await LxtagClient.batchId(await t.client.uploadZips(exp.paths));
  const summary = await t.client.waitForBatch(batchId, {
    timeoutMs,
    intervalMs,
    onProgress: (s) => {
      if (!atIngest && s.state !== "queued" && s.state !== "ingesting") {
        ingestSeconds = since();
        atIngest = peakRss();
      }
      onProgress(s, since());
    },
  });
  const seconds = since();
  const peakRssMiB = await peakRss();
  const metrics = await (await fetch(t.stack.metricsUrl("feature-worker"))).text();
  const featurized = (outcome: string, what: "sum" | "count") =>
    [
      ...metrics.matchAll(
        new RegExp(
          `^lxtag_feature_post_seconds_${what}\\{[^}]*outcome="${outcome}"[^}]*\\} ([0-9.e+-]+)$`,
          "gm",
        ),
      ),
    ].reduce((sum, m) => sum + Number(m[1]), 0);
  const meanMs = (outcome: string) => (1000 * featurized(outcome, "sum")) / featurized(outcome, "count");
  return {
    batchId,
    summary,
    seconds,
    ingestSeconds,
    peakRssMiB,
    peakRssAtIngestMiB: await (atIngest ?? peakRss()),
    detectorRuns: featurized("detected", "count"),
    featurizeMs: { detected: meanMs("detected"), cached: meanMs("cached") },
    audit: await exactlyOnce(t, batchId),
  };
}

/** Stops the pipeline's services and starts them again: fresh processes, so peak RSS restarts from zero. */
export async function restartServices(t: IsolatedPipeline): Promise<void> {
  await t.stack.stop();
  await t.stack.startAll();
}

/**
 * Leaves the machine and the shared services as they were: the exports' zip parts, and the pipeline's queues,
 * batches (every batch of its API key, finished or not), their uploads, images and RoI objects (GiB over a few runs
 * otherwise). Call it with the services stopped.
 */
export async function dropScaleRuns(t: IsolatedPipeline, exports: ScaleExport[]): Promise<void> {
  for (const name of Object.values(QUEUES)) {
    const queue = createQueue(name, t.env.LXTAG_REDIS_URL, t.prefix);
    await queue.obliterate({ force: true });
    await queue.close();
  }
  const apiKeyId = await t.repos.apiKeys.verify(t.key);
  const batches = await t.db.pool.query<{ id: string; source: { keys?: string[] } }>(
    "SELECT id, source FROM batches WHERE api_key_id = $1",
    [apiKeyId],
  );
  const keys = [
    ...batches.rows.flatMap((r) => r.source.keys ?? []),
    ...exports.flatMap((e) =>
      e.imageShas.flatMap((sha) => [imageObjectKey(sha), roiCacheKey(t.detectorId, sha)]),
    ),
  ];
  for (let i = 0; i < keys.length; i += 64) await t.store.delete(keys.slice(i, i + 64));
  await t.db.pool.query("DELETE FROM batches WHERE id = ANY($1::uuid[])", [batches.rows.map((r) => r.id)]);
  await Promise.all(exports.flatMap((e) => e.paths.map((p) => rm(p, { force: true }))));
}
